import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { TemplateCard } from "../components/TemplateCard";
import { useCategories, useFeatured, useTemplates, type TemplateSort } from "../hooks/useTemplates";

export default function MarketplacePage() {
  usePageTitle("Marketplace");
  const ids = { q: useId(), category: useId(), sort: useId() };
  const [params, setParams] = useSearchParams();
  const filters = {
    q: params.get("q") ?? "",
    category: params.get("category") ?? "",
    sort: (params.get("sort") as TemplateSort | null) ?? "popular",
  };
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const templates = useTemplates(filters);
  const categories = useCategories();
  const featured = useFeatured();
  const browsing = !filters.q && !filters.category;

  return (
    <section aria-labelledby="market-title">
      <h1 id="market-title">Marketplace</h1>
      <form className="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={ids.q}>Search templates</label>
          <input id={ids.q} type="search" value={filters.q} onChange={(e) => set("q", e.target.value)} placeholder="e.g. invoice, slack" />
        </div>
        <div className="field">
          <label htmlFor={ids.category}>Category</label>
          <select id={ids.category} value={filters.category} onChange={(e) => set("category", e.target.value)}>
            <option value="">All categories</option>
            {(categories.data ?? []).map((c) => (
              <option key={c.category} value={c.category}>
                {c.category} ({c.templates})
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.sort}>Sort by</label>
          <select id={ids.sort} value={filters.sort} onChange={(e) => set("sort", e.target.value)}>
            <option value="popular">Most popular</option>
            <option value="rating">Highest rated</option>
            <option value="name">Name</option>
          </select>
        </div>
      </form>
      {browsing && featured.data?.length ? (
        <section aria-labelledby="featured-title">
          <h2 id="featured-title">Featured</h2>
          <ul className="chips">
            {featured.data.map((t) => (
              <li key={t.id}>
                <Link className="chip" to={`/marketplace/${t.slug}`}>
                  {t.name}
                </Link>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <ProblemAlert error={templates.error} />
      <h2 id="all-title">
        {templates.data ? `${templates.data.total} template${templates.data.total === 1 ? "" : "s"}` : "Templates"}
      </h2>
      {templates.isPending ? <p role="status">Loading...</p> : null}
      {templates.data && templates.data.items.length === 0 ? <p>No template matches. Try another word or category.</p> : null}
      <ul className="cards grid" aria-labelledby="all-title">
        {(templates.data?.items ?? []).map((t) => (
          <TemplateCard key={t.id} template={t} />
        ))}
      </ul>
    </section>
  );
}
