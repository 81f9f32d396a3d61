import { useMutation, useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { Billing, Usage } from "../../api/types";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";

const PAID_PLANS = ["professional", "enterprise"] as const;
type PaidPlan = (typeof PAID_PLANS)[number];

function money(cents: number, currency: string): string {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() }).format(cents / 100);
}

function Meters({ usage }: { usage: Usage }) {
  const rows: [string, number, number | null | undefined][] = [
    ["Agents", usage.agents_used, usage.limits.agents],
    ["Runs this month", usage.runs_this_month, usage.limits.runs_per_month],
  ];
  return (
    <>
      {rows.map(([label, used, limit]) => (
        <div className="meter-row" key={label}>
          <p>
            <strong>{label}:</strong> {used} of {limit == null ? "unlimited" : limit}
          </p>
          {limit != null ? <progress max={limit} value={Math.min(used, limit)} aria-label={`${label}: ${used} of ${limit}`} /> : null}
        </div>
      ))}
    </>
  );
}

function Invoices({ billing }: { billing: Billing }) {
  if (billing.invoices.length === 0) return <p className="muted">No invoices yet.</p>;
  return (
    <table>
      <caption>Invoices</caption>
      <thead>
        <tr>
          <th scope="col">Date</th>
          <th scope="col">Number</th>
          <th scope="col">Status</th>
          <th scope="col">Amount</th>
        </tr>
      </thead>
      <tbody>
        {billing.invoices.map((invoice) => (
          <tr key={invoice.id}>
            <td>{when(invoice.created)}</td>
            <td>{invoice.hosted_invoice_url ? <a href={invoice.hosted_invoice_url}>{invoice.number ?? invoice.id}</a> : (invoice.number ?? invoice.id)}</td>
            <td>{invoice.status}</td>
            <td>{money(invoice.status === "paid" ? invoice.amount_paid : invoice.amount_due, invoice.currency)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Plan, Stripe subscription, invoices and usage; upgrades go to Stripe Checkout, changes to the Customer Portal. */
export default function BillingPage() {
  usePageTitle("Billing");
  const billing = useQuery({ queryKey: ["billing"], queryFn: () => unwrap(api.GET("/api/v1/billing")), retry: false });
  const usage = useQuery({ queryKey: ["usage"], queryFn: () => unwrap(api.GET("/api/v1/users/me/usage")) });
  const checkout = useMutation({
    mutationFn: (plan: PaidPlan) => unwrap(api.POST("/api/v1/billing/checkout", { body: { plan } })),
    onSuccess: ({ url }) => window.location.assign(url),
  });
  const portal = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/billing/portal")),
    onSuccess: ({ url }) => window.location.assign(url),
  });
  const data = billing.data;
  const subscribed = data?.status != null && data.status !== "canceled";
  return (
    <section aria-labelledby="billing-title">
      <h1 id="billing-title">Billing</h1>
      <ProblemAlert error={billing.error} />
      {data?.status === "past_due" ? (
        <p className="alert" role="alert">
          The last payment failed. Your {data.plan} plan continues until {when(data.grace_ends_at)}; update the payment method in
          the billing portal to keep it.
        </p>
      ) : null}
      {data ? (
        <>
          <p>
            Plan: <strong>{data.plan}</strong>
            {data.status ? ` (subscription ${data.status.replace("_", " ")})` : null}
          </p>
          {data.current_period_end ? (
            <p className="muted">
              {data.cancel_at_period_end ? "Ends" : "Renews"} on {when(data.current_period_end)}.
            </p>
          ) : null}
          {subscribed ? null : (
            <p>
              {PAID_PLANS.map((plan) => (
                <button key={plan} type="button" disabled={checkout.isPending} onClick={() => checkout.mutate(plan)}>
                  Upgrade to {plan}
                </button>
              ))}
            </p>
          )}
          <p>
            <button type="button" disabled={portal.isPending} onClick={() => portal.mutate()}>
              Manage billing
            </button>
          </p>
          <ProblemAlert error={checkout.error ?? portal.error} />
          <Invoices billing={data} />
        </>
      ) : billing.isPending ? (
        <p role="status">Loading...</p>
      ) : null}
      <h2>Usage</h2>
      <ProblemAlert error={usage.error} />
      {usage.data ? <Meters usage={usage.data} /> : null}
    </section>
  );
}
