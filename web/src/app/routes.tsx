/**
 * Every page of the dashboard. Pages load lazily, so the first page a user opens
 * downloads only its own code; each feature folder owns its pages.
 */
import { Navigate, type RouteObject } from "react-router";
import { RequireAuth } from "./RequireAuth";
import { Root } from "./Root";
import { NotFoundPage } from "./NotFoundPage";

type PageModule = { default: React.ComponentType };
const page = (load: () => Promise<PageModule>) => async () => ({ Component: (await load()).default });

const publicRoutes: RouteObject[] = [
  { path: "login", lazy: page(() => import("../account/pages/LoginPage")) },
  { path: "signup", lazy: page(() => import("../account/pages/SignupPage")) },
  { path: "forgot-password", lazy: page(() => import("../account/pages/ForgotPasswordPage")) },
  { path: "reset-password", lazy: page(() => import("../account/pages/ResetPasswordPage")) },
  { path: "verify-email", lazy: page(() => import("../account/pages/VerifyEmailPage")) },
  { path: "marketplace", lazy: page(() => import("../marketplace/pages/MarketplacePage")) },
  { path: "marketplace/:slug", lazy: page(() => import("../marketplace/pages/TemplatePage")) },
];

const privateRoutes: RouteObject[] = [
  { path: "marketplace/:slug/deploy", lazy: page(() => import("../agents/pages/DeployPage")) },
  { path: "agents", lazy: page(() => import("../agents/pages/AgentsPage")) },
  { path: "agents/:agentId", lazy: page(() => import("../agents/pages/AgentPage")) },
  { path: "runs/:runId", lazy: page(() => import("../runs/pages/RunPage")) },
  { path: "credentials", lazy: page(() => import("../credentials/pages/CredentialsPage")) },
  { path: "notifications", lazy: page(() => import("../notifications/pages/NotificationsPage")) },
  { path: "usage", lazy: page(() => import("../usage/pages/UsagePage")) },
  { path: "billing", lazy: page(() => import("../billing/pages/BillingPage")) },
  { path: "analytics", lazy: page(() => import("../analytics/pages/AnalyticsPage")) },
  { path: "errors", lazy: page(() => import("../errors/pages/ErrorsPage")) },
  { path: "onboarding", lazy: page(() => import("../onboarding/pages/OnboardingPage")) },
  { path: "account", lazy: page(() => import("../account/pages/AccountPage")) },
];

export const routes: RouteObject[] = [
  {
    path: "/",
    element: <Root />,
    children: [
      { index: true, element: <Navigate to="/agents" replace /> },
      ...publicRoutes,
      { element: <RequireAuth />, children: privateRoutes },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
