import type { Pagination } from '../types';

/** Previous / next page buttons with "page X of Y", as a labelled navigation region. */
export function Pager({ pagination, onPage, label }: { pagination: Pagination; onPage: (page: number) => void; label: string }) {
  if (pagination.totalPages <= 1) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={pagination.page <= 1} onClick={() => onPage(pagination.page - 1)}>
        Previous page
      </button>
      <span>
        Page {pagination.page} of {pagination.totalPages}
      </span>
      <button type="button" disabled={pagination.page >= pagination.totalPages} onClick={() => onPage(pagination.page + 1)}>
        Next page
      </button>
    </nav>
  );
}
