import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useSession } from '../session';

const LINKS: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/console/characters', label: 'Characters' },
  { href: '/console/playground', label: 'Playground' },
  { href: '/console/conversations', label: 'Conversations' },
  { href: '/console/usage', label: 'Usage' },
  { href: '/console/keys', label: 'Keys', admin: true },
  { href: '/console/platforms', label: 'Platforms', admin: true },
];

/** The page's heading: focus lands here after each navigation, and it names the browser tab. */
export function PageTitle({ children }: { children: string }) {
  useEffect(() => {
    document.title = `${children} · charbridge console`;
  }, [children]);
  return <h1 tabIndex={-1}>{children}</h1>;
}

/** Move focus to the new page's heading, so keyboard and screen-reader users start there. */
export function focusHeading(): void {
  requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
}

/** Landmarks every page shares: a skip link, the banner with the signed-in key, the navigation, and main. */
export function Layout({ children, onSignOut }: { children: ComponentChildren; onSignOut: () => void }) {
  const session = useSession();
  const { path } = useLocation();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="banner">
        <p class="brand">charbridge console</p>
        <p class="who">
          Signed in as <strong>{session.caller.name}</strong>
          {session.caller.isAdmin ? ' (admin)' : ''}
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="main-nav" aria-label="Console">
        <ul>
          {LINKS.filter((l) => !l.admin || session.caller.isAdmin).map((l) => (
            <li key={l.href}>
              <a href={l.href} aria-current={path === l.href || path.startsWith(`${l.href}/`) ? 'page' : undefined}>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
