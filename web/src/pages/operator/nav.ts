import { Activity, ScanLine, Stamp } from "lucide-react";
import type { NavItem } from "../../ui/AppShell";

export const operatorNav: NavItem[] = [
  { to: "/operator", label: "Node status", icon: Activity, end: true },
  { to: "/operator/issuer", label: "Issuer console", icon: Stamp },
  { to: "/verify", label: "Verify a health card", icon: ScanLine },
];
