"use client";
// The chat in a client component: useChatHub runs in the browser. Next
// also renders it on the server, where importing chathub-loader is safe
// and the hook starts nothing (state "idle").
import { useChatHub } from "chathub-loader/react";

export default function Chat() {
  const { state, error, expiresAt, refresh } = useChatHub({
    tokenUrl: "/api/chathub/token", // your backend (GET → {"token", "expiresAt"}), rewritten in next.config.mjs
    // Set at build time (`next build` inlines NEXT_PUBLIC_*): the dev server's
    // stand-in widget; unset, the vendor's widget.
    widgetSrc: process.env.NEXT_PUBLIC_CHATHUB_WIDGET_SRC,
    container: "#chat", // the loading state and the contact box render here
    fallback: { title: "Chat is unavailable", email: "support@example.com", phone: "+39 02 1234 567" },
  });
  return (
    <>
      <p>
        Chat: <output id="state">{state}</output>
        {" · "}error: <output id="error">{error ? error.code : "none"}</output>
        {" · "}token expires: <output id="expires">{expiresAt ? expiresAt.toLocaleTimeString() : "–"}</output>
      </p>
      <button id="refresh" onClick={refresh}>New token</button>
      <div id="chat" />
    </>
  );
}
