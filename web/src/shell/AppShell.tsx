// The frame around every signed-in screen: skip link, navigation, theme switch, user and sign-out.
// Below 760 px the navigation folds behind a Menu button.
import { Suspense, useEffect, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { useMe, useSignOut } from "../auth/useAuth";
import { useTheme } from "../theme";
import { Loading } from "../components/States";

type Role = "provider_admin" | "admin" | "supervisor" | "viewer";
const CUSTOMER: Role[] = ["admin", "supervisor", "viewer"];

/** Each entry lists the roles that may use it (docs/security.md), so the nav offers nothing else. */
const NAV: { to: string; label: string; end: boolean; roles: Role[] }[] = [
  { to: "/", label: "Dashboard", end: true, roles: CUSTOMER },
  { to: "/cameras", label: "Cameras", end: false, roles: CUSTOMER },
  { to: "/live", label: "Live", end: false, roles: CUSTOMER },
  { to: "/playback", label: "Playback", end: false, roles: CUSTOMER },
  { to: "/events", label: "Events", end: false, roles: CUSTOMER },
  { to: "/settings/config", label: "Configuration", end: false, roles: ["provider_admin", "admin", "supervisor"] },
  { to: "/settings/users", label: "Users", end: false, roles: ["admin"] },
  { to: "/settings/customers", label: "Customers", end: false, roles: ["provider_admin"] },
];

export function AppShell() {
  const [theme, toggleTheme] = useTheme();
  const me = useMe();
  const signOut = useSignOut();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname]);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
        <span className="brand">VMS Console</span>
        <div className="topbar-right">
          <button
            type="button"
            onClick={toggleTheme}
            aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
            title="Theme"
          >
            {theme === "dark" ? "☀ Light" : "☾ Dark"}
          </button>
          <span className="user" data-testid="current-user">
            {me.data ? `${me.data.full_name || me.data.email} · ${me.data.role}` : ""}
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="main-nav" aria-label="Main" className={menuOpen ? "nav open" : "nav"}>
        <ul>
          {NAV.filter((n) => me.data && n.roles.includes(me.data.role)).map((n) => (
            <li key={n.to}>
              <NavLink to={n.to} end={n.end}>
                {n.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1} className="content">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
