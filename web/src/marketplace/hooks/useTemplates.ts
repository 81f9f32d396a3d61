import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

export type TemplateSort = "popular" | "rating" | "name";

export function useTemplates(filters: { category: string; q: string; sort: TemplateSort }) {
  return useQuery({
    queryKey: ["marketplace", "templates", filters],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/marketplace/templates", {
          params: { query: { category: filters.category || undefined, q: filters.q || undefined, sort: filters.sort, limit: 100 } },
        }),
      ),
    placeholderData: (previous) => previous,
    staleTime: 60_000,
  });
}

export function useCategories() {
  return useQuery({
    queryKey: ["marketplace", "categories"],
    queryFn: () => unwrap(api.GET("/api/v1/marketplace/categories")),
    staleTime: 300_000,
  });
}

export function useFeatured() {
  return useQuery({
    queryKey: ["marketplace", "featured"],
    queryFn: () => unwrap(api.GET("/api/v1/marketplace/featured")),
    staleTime: 300_000,
  });
}

export function useTemplate(slug: string | undefined) {
  return useQuery({
    queryKey: ["marketplace", "template", slug],
    queryFn: () => unwrap(api.GET("/api/v1/marketplace/templates/{id_or_slug}", { params: { path: { id_or_slug: slug! } } })),
    enabled: !!slug,
    staleTime: 300_000,
  });
}
