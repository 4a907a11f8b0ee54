import { Users } from "lucide-react";
import type { NavItem } from "../../ui/AppShell";

/** The clinician area's navigation (find a patient, merged view, requests: the clinic pages). */
export const clinicNav: NavItem[] = [{ to: "/clinic", label: "Shared with me", icon: Users, end: true }];
