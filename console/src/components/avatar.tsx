import { useState } from 'preact/hooks';

/**
 * A character's picture, or its initials when it has none (or it fails to load). Decorative:
 * the name is always next to it, so screen readers skip it.
 */
export function Avatar({ name, url, size = 48 }: { name: string; url: string | null | undefined; size?: number }) {
  const [broken, setBroken] = useState(false);
  const initials = name
    .split(/\s+/)
    .map((w) => w[0] ?? '')
    .join('')
    .slice(0, 2)
    .toUpperCase();
  if (url && !broken) {
    return <img class="avatar" src={url} alt="" width={size} height={size} loading="lazy" referrerpolicy="no-referrer" onError={() => setBroken(true)} />;
  }
  return (
    <span class="avatar avatar-initials" aria-hidden="true" data-size={size}>
      {initials || '?'}
    </span>
  );
}
