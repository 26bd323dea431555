import { Component } from "@angular/core";

@Component({
  selector: "app-about",
  template: `
    <section>
      <h1>About</h1>
      <p id="about">No chat on this page: leaving the chat page removed the widget.</p>
    </section>
  `,
})
export class AboutComponent {}
