// Routes. Every screen is its own chunk (React.lazy), so the first route loads only the shell,
// the router, TanStack Query and the API client; see docs/web.md for the measured sizes.
import { lazy, Suspense, type ReactNode } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes, useLocation, type Location } from "react-router-dom";
import { ApiError } from "./api";
import { useMe, useSession } from "./auth/useAuth";
import { AppShell } from "./shell/AppShell";
import { Loading } from "./components/States";

const SignInPage = lazy(() => import("./auth/SignInPage"));
const DashboardPage = lazy(() => import("./dashboard/DashboardPage"));
const CamerasPage = lazy(() => import("./cameras/CamerasPage"));
const CameraPage = lazy(() => import("./cameras/CameraPage"));
const InboxPage = lazy(() => import("./inbox/InboxPage"));
const LivePage = lazy(() => import("./live/LivePage"));
const PlaybackPage = lazy(() => import("./playback/PlaybackPage"));
const ConfigPage = lazy(() => import("./config/ConfigPage"));
const UsersPage = lazy(() => import("./admin/UsersPage"));
const CustomersPage = lazy(() => import("./admin/CustomersPage"));
const NotFoundPage = lazy(() => import("./pages/NotFoundPage"));

/** Opt in to React Router v7 behaviour now, so the upgrade changes nothing. */
export const ROUTER_FUTURE = { v7_startTransition: true, v7_relativeSplatPath: true } as const;

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A 4xx will not heal by asking again; network trouble and 5xx get two more tries.
        retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
        refetchOnWindowFocus: true,
        staleTime: 10_000,
      },
    },
  });
}

function RequireSession({ children }: { children: ReactNode }) {
  const tokens = useSession();
  const location = useLocation();
  if (!tokens) return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function SignInRoute() {
  const tokens = useSession();
  const location = useLocation() as Location<{ from?: string } | null>;
  if (tokens) return <Navigate to={location.state?.from ?? "/"} replace />;
  return <SignInPage />;
}

/** Provider staff have no customer: their start page is the customers list, not a dashboard. */
function HomePage() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.data?.role === "provider_admin") return <Navigate to="/settings/customers" replace />;
  return <DashboardPage />;
}

export function AppRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/sign-in" element={<SignInRoute />} />
        <Route
          element={
            <RequireSession>
              <AppShell />
            </RequireSession>
          }
        >
          <Route index element={<HomePage />} />
          <Route path="cameras" element={<CamerasPage />} />
          <Route path="cameras/:id" element={<CameraPage />} />
          <Route path="events" element={<InboxPage />} />
          <Route path="live" element={<LivePage />} />
          <Route path="playback" element={<PlaybackPage />} />
          <Route path="settings/config" element={<ConfigPage />} />
          <Route path="settings/users" element={<UsersPage />} />
          <Route path="settings/customers" element={<CustomersPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

export function App({ client = makeQueryClient() }: { client?: QueryClient }) {
  return (
    <QueryClientProvider client={client}>
      <BrowserRouter future={ROUTER_FUTURE}>
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  );
}
