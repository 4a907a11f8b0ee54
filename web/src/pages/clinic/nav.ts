import { FlaskConical, Inbox, LayoutDashboard, Search, Stethoscope, Users } from "lucide-react";
import type { NavItem } from "../../ui/AppShell";

/** The clinician area's navigation. */
export const clinicNav: NavItem[] = [
  { to: "/clinic", label: "Shared with me", icon: Users, end: true },
  { to: "/clinic/find", label: "Find a patient", icon: Search },
  { to: "/clinic/patient", label: "Patient", icon: Stethoscope },
  { to: "/clinic/requests", label: "My requests", icon: Inbox },
  { to: "/clinic/studies", label: "Studies", icon: FlaskConical, roles: ["researcher"] },
  { to: "/clinic/ward", label: "Ward board", icon: LayoutDashboard },
];
