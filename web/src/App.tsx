/**
 * Routes: sign-in at `/`, then one area per kind of person (patient, clinician, operator), each
 * page a lazy chunk so the first load stays small. No personal data in any URL: pages keep what
 * they show (a patient's account, a resource) in state, never in the path or query.
 */
import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate, Outlet, RouterProvider, useLocation } from "react-router";
import { SessionProvider, useSession, type Identity } from "./auth/session";
import { homeOf } from "./lib/home";
import { AppShell, type NavItem } from "./ui/AppShell";
import { Loading } from "./ui/components";
import { patientNav } from "./pages/patient/nav";
import { clinicNav } from "./pages/clinic/nav";
import { operatorNav } from "./pages/operator/nav";

const SignIn = lazy(() => import("./pages/SignIn"));
const NotFound = lazy(() => import("./pages/NotFound"));
const MyRecord = lazy(() => import("./pages/patient/MyRecord"));
const Share = lazy(() => import("./pages/patient/Share"));
const Guidance = lazy(() => import("./pages/patient/Guidance"));
const Grants = lazy(() => import("./pages/patient/Grants"));
const AccessLog = lazy(() => import("./pages/patient/AccessLog"));
const Notifications = lazy(() => import("./pages/patient/Notifications"));
const Settings = lazy(() => import("./pages/patient/Settings"));
const MyVitals = lazy(() => import("./pages/patient/MyVitals"));
const SharedWithMe = lazy(() => import("./pages/clinic/SharedWithMe"));
const FindPatient = lazy(() => import("./pages/clinic/FindPatient"));
const PatientView = lazy(() => import("./pages/clinic/PatientView"));
const MyRequests = lazy(() => import("./pages/clinic/MyRequests"));
const WardBoard = lazy(() => import("./pages/clinic/WardBoard"));
const PatientRequests = lazy(() => import("./pages/requests/PatientRequests"));
const Research = lazy(() => import("./pages/patient/Research"));
const Studies = lazy(() => import("./pages/clinic/Studies"));
const NewStudy = lazy(() => import("./pages/clinic/NewStudy"));
const Study = lazy(() => import("./pages/clinic/Study"));
const OperatorStatus = lazy(() => import("./pages/operator/Status"));
const Passport = lazy(() => import("./pages/patient/Passport"));
const Issuer = lazy(() => import("./pages/operator/Issuer"));
const Verifier = lazy(() => import("./pages/verify/Verifier"));

function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading what="the page" />}>{children}</Suspense>;
}

/** Pages of one area: only for a signed-in person of that kind; others go to sign-in (and come back). */
function Area({ kind, nav }: { kind: Identity["kind"]; nav: NavItem[] }) {
  const { identity } = useSession();
  const location = useLocation();
  if (!identity) return <Navigate to="/" replace state={{ from: location.pathname }} />;
  if (identity.kind !== kind) return <Navigate to={homeOf(identity)} replace />;
  return (
    <AppShell nav={nav}>
      <Page>
        <Outlet />
      </Page>
    </AppShell>
  );
}

const router = createBrowserRouter([
  {
    path: "/",
    element: (
      <Page>
        <SignIn />
      </Page>
    ),
  },
  {
    path: "/patient",
    element: <Area kind="patient" nav={patientNav} />,
    children: [
      { index: true, element: <MyRecord /> },
      { path: "guidance", element: <Guidance /> },
      { path: "vitals", element: <MyVitals /> },
      { path: "share", element: <Share /> },
      { path: "sharing", element: <Grants /> },
      { path: "access-log", element: <AccessLog /> },
      { path: "notifications", element: <Notifications /> },
      { path: "settings", element: <Settings /> },
      { path: "requests", element: <PatientRequests /> },
      { path: "research", element: <Research /> },
      { path: "passport", element: <Passport /> },
    ],
  },
  {
    path: "/clinic",
    element: <Area kind="practitioner" nav={clinicNav} />,
    children: [
      { index: true, element: <SharedWithMe /> },
      { path: "find", element: <FindPatient /> },
      { path: "patient", element: <PatientView /> },
      { path: "requests", element: <MyRequests /> },
      { path: "studies", element: <Studies /> },
      { path: "studies/new", element: <NewStudy /> },
      { path: "studies/:id", element: <Study /> },
      { path: "ward", element: <WardBoard /> },
    ],
  },
  {
    // the status page is public, like /health it reads; the issuer console asks for the node's key
    path: "/operator",
    element: (
      <AppShell nav={operatorNav}>
        <Page>
          <Outlet />
        </Page>
      </AppShell>
    ),
    children: [
      { index: true, element: <OperatorStatus /> },
      { path: "issuer", element: <Issuer /> },
    ],
  },
  {
    // public: verifies only what it is given, in the browser, offline once loaded
    path: "/verify",
    element: (
      <Page>
        <Verifier />
      </Page>
    ),
  },
  {
    path: "*",
    element: (
      <Page>
        <NotFound />
      </Page>
    ),
  },
]);

export function App() {
  return (
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>
  );
}
