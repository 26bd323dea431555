// A server component (rendered at build time): the chat is the client
// component it renders.
import Chat from "./chat";

export default function ChatPage() {
  return (
    <section>
      <h1>Support</h1>
      <Chat />
    </section>
  );
}
