import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { SessionInfo } from './types';

export const SessionContext = createContext<SessionInfo | null>(null);

/** The signed-in caller; pages render only inside a session. */
export function useSession(): SessionInfo {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}
