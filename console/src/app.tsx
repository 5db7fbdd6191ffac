import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { currentSession, onSessionEnded, setCsrfToken, signOut } from './api';
import { focusHeading, Layout, PageTitle } from './components/layout';
import { SessionContext, useSession } from './session';
import type { SessionInfo } from './types';
import { SignIn } from './pages/sign-in';
import { Characters } from './pages/characters';
import { CharacterEditor } from './pages/character-editor';
import { Playground } from './pages/playground';
import { Conversations } from './pages/conversations';
import { ConversationPage } from './pages/conversation';
import { Usage } from './pages/usage';
import { Keys } from './pages/keys';
import { Platforms } from './pages/platforms';

function Home() {
  const { route } = useLocation();
  useEffect(() => route('/console/characters', true), []);
  return null;
}

function NotFound() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>
        There is no console page here. <a href="/console/characters">Go to characters</a>.
      </p>
    </>
  );
}

/** Admin pages render for the admin only; a tenant who types the URL is told so. */
function AdminOnly({ page: Page }: { page: () => preact.JSX.Element }) {
  const session = useSession();
  if (session.caller.isAdmin) return <Page />;
  return (
    <>
      <PageTitle>Admin only</PageTitle>
      <p>This page needs the admin key.</p>
    </>
  );
}

const KeysPage = () => <AdminOnly page={Keys} />;
const PlatformsPage = () => <AdminOnly page={Platforms} />;

/** The console: sign-in until there is a session, then the pages, each a client of the public API. */
export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [notice, setNotice] = useState<string>();

  const enter = (s: SessionInfo) => {
    setCsrfToken(s.csrfToken);
    setNotice(undefined);
    setSession(s);
    focusHeading();
  };

  useEffect(() => {
    onSessionEnded((message) => {
      setSession(null);
      setNotice(message);
    });
    currentSession().then(enter, () => setSession(null));
  }, []);

  async function leave() {
    try {
      await signOut();
    } finally {
      setSession(null);
      setNotice('You are signed out.');
    }
  }

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (!session) return <SignIn notice={notice} onSignedIn={enter} />;
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider scope="/console">
        <Layout onSignOut={leave}>
          <Router onRouteChange={focusHeading}>
            <Route path="/console" component={Home} />
            <Route path="/console/" component={Home} />
            <Route path="/console/characters" component={Characters} />
            <Route path="/console/characters/new" component={CharacterEditor} />
            <Route path="/console/characters/:id/edit" component={CharacterEditor} />
            <Route path="/console/playground" component={Playground} />
            <Route path="/console/conversations" component={Conversations} />
            <Route path="/console/conversations/:id" component={ConversationPage} />
            <Route path="/console/usage" component={Usage} />
            <Route path="/console/keys" component={KeysPage} />
            <Route path="/console/platforms" component={PlatformsPage} />
            <Route default component={NotFound} />
          </Router>
        </Layout>
      </LocationProvider>
    </SessionContext.Provider>
  );
}
