import { provideZoneChangeDetection } from "@angular/core";
import { bootstrapApplication } from "@angular/platform-browser";
import { provideRouter, withHashLocation } from "@angular/router";
import { AboutComponent } from "./app/about.component";
import { App } from "./app/app";
import { ChatComponent } from "./app/chat.component";

bootstrapApplication(App, {
  providers: [
    // zone.js change detection, as most existing apps have it: the chat's
    // timers run outside the zone and its signals still update the page.
    // (A new Angular project is zoneless; the service works there too.)
    provideZoneChangeDetection({ eventCoalescing: true }),
    provideRouter(
      [
        { path: "", pathMatch: "full", component: ChatComponent },
        { path: "about", component: AboutComponent },
      ],
      withHashLocation(),
    ),
  ],
}).catch((err) => console.error(err));
