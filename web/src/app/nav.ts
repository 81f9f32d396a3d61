/**
 * The navigation, in order. A feature adds its entry here and its routes in
 * routes.tsx; nothing else needs to know about it.
 */
export interface NavItem {
  to: string;
  label: string;
  /** Only shown to a logged-in user. */
  private: boolean;
}

export const NAV: NavItem[] = [
  { to: "/agents", label: "Agents", private: true },
  { to: "/marketplace", label: "Marketplace", private: false },
  { to: "/credentials", label: "Credentials", private: true },
  { to: "/analytics", label: "Analytics", private: true },
  { to: "/errors", label: "Errors", private: true },
  { to: "/usage", label: "Usage", private: true },
  { to: "/billing", label: "Billing", private: true },
  { to: "/notifications", label: "Notifications", private: true },
  { to: "/account", label: "Account", private: true },
];
