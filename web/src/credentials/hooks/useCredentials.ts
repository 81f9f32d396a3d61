import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

export const CREDENTIALS_KEY = ["credentials"] as const;

export function useCredentials() {
  return useQuery({
    queryKey: [...CREDENTIALS_KEY, "list"],
    queryFn: () => unwrap(api.GET("/api/v1/credentials", { params: { query: { limit: 100 } } })),
  });
}

export function useCredentialKinds() {
  return useQuery({
    queryKey: [...CREDENTIALS_KEY, "kinds"],
    queryFn: () => unwrap(api.GET("/api/v1/credentials/kinds")),
    staleTime: 300_000,
  });
}
