// The chat page: its own ChatHubService (one chat per component), started
// once the view is rendered (#chat exists) and stopped when the component
// is destroyed (the router leaves the page).
import { Component, OnDestroy, afterRenderEffect, computed, inject, signal, untracked } from "@angular/core";
import type { WidgetTokenManagerOptions } from "chathub-loader";
import { ChatHubService } from "./chathub.service";

const CONTACT = { title: "Chat is unavailable", email: "support@example.com", phone: "+39 02 1234 567" };

@Component({
  selector: "app-chat",
  providers: [ChatHubService],
  template: `
    <section>
      <h1>Support</h1>
      <p>
        Chat: <output id="state">{{ chat.state() }}</output>
        · error: <output id="error">{{ chat.error()?.code ?? "none" }}</output>
        · token expires: <output id="expires">{{ chat.expiresAt()?.toLocaleTimeString() ?? "–" }}</output>
      </p>
      <p>
        <button id="refresh" (click)="chat.refresh()">Refresh the chat's token</button>
        <button id="rerender" (click)="reloadContact()">Reload the contact details</button>
        <output id="renders">{{ renders() }}</output>
        <label>
          Organisation
          <select id="org" #select (change)="org.set(select.value)">
            <option value="">default</option>
            <option value="sales">sales</option>
            <option value="support">support</option>
          </select>
        </label>
      </p>
      <div id="chat"></div>
    </section>
  `,
})
export class ChatComponent implements OnDestroy {
  protected readonly chat = inject(ChatHubService);
  protected readonly org = signal("");
  protected readonly renders = signal(0);
  private readonly contact = signal(CONTACT);

  // A new object whenever org or contact change: an equal one keeps the
  // chat, another org re-creates it.
  private readonly options = computed<WidgetTokenManagerOptions>(() => ({
    tokenUrl: "/api/chathub/token",
    ...(this.org() ? { org: this.org() } : {}),
    // The stand-in widget of `chathub-token-server dev`; leave widgetSrc out
    // in production to load the vendor's widget.
    widgetSrc: "/operator-chat-panel/widget-script.js",
    container: "#chat",
    fallback: this.contact(),
  }));

  constructor() {
    // After the first render (never during SSR), then whenever options()
    // changes; start() itself reads no signal the effect should follow.
    afterRenderEffect(() => {
      const options = this.options();
      untracked(() => this.chat.start(options));
    });
  }

  // Equal contact details again (say, reloaded from a config endpoint).
  protected reloadContact(): void {
    this.contact.set({ ...CONTACT });
    this.renders.update((n) => n + 1);
  }

  ngOnDestroy(): void {
    this.chat.stop();
  }
}
