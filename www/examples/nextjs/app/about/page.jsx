export default function AboutPage() {
  return (
    <section>
      <h1>About</h1>
      <p id="about">No chat on this page: leaving the chat page removed the widget.</p>
    </section>
  );
}
