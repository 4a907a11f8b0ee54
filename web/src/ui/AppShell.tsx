/** The frame of every signed-in page: skip link, top bar (who is signed in, sign out), navigation, main. */
import { HeartPulse, LogOut, type LucideIcon } from "lucide-react";
import type { ReactNode } from "react";
import { NavLink, useNavigate } from "react-router";
import { useSession } from "../auth/session";
import { shortAccount } from "../lib/format";

export interface NavItem {
  to: string;
  label: string;
  icon: LucideIcon;
  /** Match the path exactly (an area's index page). */
  end?: boolean;
  /** Shown only to practitioners of these roles (the node refuses the pages' requests to others). */
  roles?: readonly string[];
}

export function AppShell({ nav, children }: { nav: NavItem[]; children: ReactNode }) {
  const { identity, signer, signOut } = useSession();
  const navigate = useNavigate();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="/">
          <HeartPulse size={22} aria-hidden="true" /> carechain
        </a>
        {identity ? (
          <div className="whoami">
            {signer?.source === "demo" ? <span className="badge warn">demo identity</span> : null}
            <span>
              {identity.kind === "patient"
                ? "Patient"
                : identity.kind === "practitioner"
                  ? `Clinician (${identity.role ?? "practitioner"})`
                  : "Operator"}{" "}
              <span className="mono" title={identity.account}>
                {shortAccount(identity.account)}
              </span>
            </span>
            <button
              type="button"
              className="btn secondary small"
              onClick={() => {
                signOut();
                void navigate("/");
              }}
            >
              <LogOut size={16} aria-hidden="true" /> Sign out
            </button>
          </div>
        ) : null}
      </header>
      <div className="body">
        <nav className="nav" aria-label="Main">
          <ul>
            {nav
              .filter((item) => item.roles === undefined || item.roles.includes(identity?.role ?? ""))
              .map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to} end={item.end === true}>
                    <item.icon size={18} aria-hidden="true" /> {item.label}
                  </NavLink>
                </li>
              ))}
          </ul>
        </nav>
        <main id="main" className="main stack" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
