// `chathub-loader/react`: useChatHub(options) → { state, error, expiresAt, refresh }.
//
//   const { state, error, refresh } = useChatHub({ tokenUrl: "/api/chathub/token", container: "#chat" });
//
// One handle on the page's manager per mounted component: created in an
// effect, released in its cleanup. StrictMode's mount → unmount → mount
// leaves one widget (the manager counts handles; the first mount's handle
// is never even created, since the .wasm loads asynchronously). Equal
// options (same JSON, elements by identity) keep the chat across
// re-renders; a real change (another org) re-creates it. Bundled by
// `make pkg` with js/adapter.js into pkg/react.js; React stays an import.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { IDLE, optionsKey, startChat } from "./adapter.js";

export function useChatHub(options) {
  const key = optionsKey(options);
  // The options object of the render that produced this key.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stable = useMemo(() => options, [key]);
  const [snap, setSnap] = useState(IDLE);
  const chat = useRef(null);
  useEffect(() => {
    const current = startChat(stable, setSnap);
    chat.current = current;
    return () => {
      current.destroy();
      if (chat.current === current) chat.current = null;
    };
  }, [stable]);
  const refresh = useCallback(() => chat.current?.refresh() ?? Promise.resolve(), []);
  return useMemo(() => ({ state: snap.state, error: snap.error, expiresAt: snap.expiresAt, refresh }), [snap, refresh]);
}
