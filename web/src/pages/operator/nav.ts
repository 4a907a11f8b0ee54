import { Activity } from "lucide-react";
import type { NavItem } from "../../ui/AppShell";

export const operatorNav: NavItem[] = [{ to: "/operator", label: "Node status", icon: Activity, end: true }];
