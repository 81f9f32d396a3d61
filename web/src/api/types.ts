/** Names for the generated schema's types, so pages read `Agent`, not the path to it. */
import type { components } from "./schema";

type S = components["schemas"];
export type Agent = S["Agent"];
export type AgentHealth = S["AgentHealth"];
export type Run = S["Run"];
export type RunDetail = S["RunDetail"];
export type RunStep = S["RunStep"];
export type TemplateSummary = S["TemplateSummary"];
export type TemplateDetail = S["TemplateDetail"];
export type StepOutline = S["StepOutline"];
export type Category = S["Category"];
export type Credential = S["Credential"];
export type CredentialKind = S["CredentialKind"];
export type Notification = S["Notification"];
export type Usage = S["Usage"];
export type Billing = S["Billing"];
export type ErrorGroup = S["ErrorGroup"];
export type User = S["User"];
export type OnboardingSession = S["Session"];
export type Question = S["Question"];
export type Recommendation = S["Recommendation"];
export type ApiKey = S["ApiKey"];
export type ApiKeyCreated = S["ApiKeyCreated"];
export type Scope = S["Scope"];
