// The chathub-loader Angular service in a small app: a chat page and a page
// without the chat (going there destroys the chat component), hash routes.
import { Component } from "@angular/core";
import { RouterLink, RouterOutlet } from "@angular/router";

@Component({
  selector: "app-root",
  imports: [RouterLink, RouterOutlet],
  template: `
    <nav><a id="to-chat" routerLink="/">Chat</a> · <a id="to-about" routerLink="/about">About</a></nav>
    <main><router-outlet /></main>
  `,
})
export class App {}
