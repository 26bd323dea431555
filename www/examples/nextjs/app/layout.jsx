// Two pages, linked with next/link: going from the chat to /about is a
// client-side navigation that unmounts the chat.
import Link from "next/link";

export const metadata = { title: "chathub-loader · Next.js example" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <Link id="to-chat" href="/">Chat</Link> · <Link id="to-about" href="/about">About</Link>
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
