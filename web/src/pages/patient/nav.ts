import {
  Activity,
  Bell,
  ClipboardList,
  HeartPulse,
  Inbox,
  FileHeart,
  FlaskConical,
  QrCode,
  Settings,
  Share2,
  ShieldCheck,
} from "lucide-react";
import type { NavItem } from "../../ui/AppShell";

export const patientNav: NavItem[] = [
  { to: "/patient", label: "My record", icon: FileHeart, end: true },
  { to: "/patient/guidance", label: "Guidance", icon: HeartPulse },
  { to: "/patient/vitals", label: "My vitals", icon: Activity },
  { to: "/patient/share", label: "Share", icon: Share2 },
  { to: "/patient/sharing", label: "Who can see what", icon: ClipboardList },
  { to: "/patient/passport", label: "My passport", icon: QrCode },
  { to: "/patient/access-log", label: "Access log", icon: ShieldCheck },
  { to: "/patient/requests", label: "Access requests", icon: Inbox },
  { to: "/patient/research", label: "Research", icon: FlaskConical },
  { to: "/patient/notifications", label: "Notifications", icon: Bell },
  { to: "/patient/settings", label: "Settings", icon: Settings },
];
