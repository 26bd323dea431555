// React: one widget per org, safe under StrictMode (mount → unmount → mount
// leaves exactly one tag). `init()` runs once per page.
import { useEffect, useState } from "react";
import init, { WidgetTokenManager } from "chathub-loader";

let ready;
const loadWasm = () => (ready ??= init());

export function useChathub(options) {
  const [state, setState] = useState("idle");
  const key = JSON.stringify(options);
  useEffect(() => {
    let manager;
    let cancelled = false;
    const onChange = (e) => {
      if ((e.detail.org ?? undefined) === options.org) setState(e.detail.state);
    };
    window.addEventListener("chathub:statechange", onChange);
    loadWasm().then(() => {
      if (cancelled) return;
      manager = new WidgetTokenManager(options);
      manager.initialize().catch((err) => console.warn("chat unavailable:", err.code));
    });
    return () => {
      cancelled = true;
      window.removeEventListener("chathub:statechange", onChange);
      manager?.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}

export function Chat() {
  const state = useChathub({ tokenUrl: "/api/chathub/token", container: "#chat" });
  return <div id="chat" data-state={state} />;
}
