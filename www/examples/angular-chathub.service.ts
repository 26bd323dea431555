// Angular: a service that owns the manager; call start() from a component's
// ngAfterViewInit (the container exists then) and stop() from ngOnDestroy.
import { Injectable, NgZone } from "@angular/core";
import init, { WidgetTokenManager, type WidgetTokenManagerOptions } from "chathub-loader";

let ready: Promise<unknown> | undefined;

@Injectable({ providedIn: "root" })
export class ChathubService {
  private manager?: WidgetTokenManager;
  constructor(private zone: NgZone) {}

  start(options: WidgetTokenManagerOptions): Promise<void> {
    // Timers run outside Angular's zone: no change detection every refresh.
    return this.zone.runOutsideAngular(async () => {
      await (ready ??= init());
      this.manager = new WidgetTokenManager(options);
      await this.manager.initialize();
    });
  }

  stop(): void {
    this.manager?.destroy();
    this.manager = undefined;
  }
}
