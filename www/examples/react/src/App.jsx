// The chathub-loader React adapter in a small app: a chat page and a page
// without the chat (going there unmounts the chat), a hash route switch.
import { useEffect, useState } from "react";
import { useChatHub } from "chathub-loader/react";

function ChatPage() {
  const [org, setOrg] = useState("");
  const [renders, setRenders] = useState(0);
  // A new options object on every render: equal options keep the chat,
  // another org re-creates it.
  const { state, error, expiresAt, refresh } = useChatHub({
    tokenUrl: "/api/chathub/token",
    ...(org ? { org } : {}),
    // The stand-in widget of `chathub-token-server dev`; leave widgetSrc out
    // in production to load the vendor's widget.
    widgetSrc: "/operator-chat-panel/widget-script.js",
    container: "#chat",
    fallback: { title: "Chat is unavailable", email: "support@example.com", phone: "+39 02 1234 567" },
  });
  return (
    <section>
      <h1>Support</h1>
      <p>
        Chat: <output id="state">{state}</output>
        {" · "}error: <output id="error">{error ? error.code : "none"}</output>
        {" · "}token expires: <output id="expires">{expiresAt ? expiresAt.toLocaleTimeString() : "–"}</output>
      </p>
      <p>
        <button id="refresh" onClick={refresh}>Refresh the chat's token</button>{" "}
        <button id="rerender" onClick={() => setRenders((n) => n + 1)}>Re-render</button>{" "}
        <output id="renders">{renders}</output>{" "}
        <label>
          Organisation{" "}
          <select id="org" value={org} onChange={(e) => setOrg(e.target.value)}>
            <option value="">default</option>
            <option value="sales">sales</option>
            <option value="support">support</option>
          </select>
        </label>
      </p>
      <div id="chat" />
    </section>
  );
}

function AboutPage() {
  return (
    <section>
      <h1>About</h1>
      <p id="about">No chat on this page: leaving the chat page removed the widget.</p>
    </section>
  );
}

function useHashRoute() {
  const [route, setRoute] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setRoute(location.hash);
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function App() {
  const route = useHashRoute();
  return (
    <>
      <nav>
        <a id="to-chat" href="#/">Chat</a> · <a id="to-about" href="#/about">About</a>
      </nav>
      <main>{route === "#/about" ? <AboutPage /> : <ChatPage />}</main>
    </>
  );
}
