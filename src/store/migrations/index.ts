import type { DialectMigration } from "../migrate.js";
import { foundation } from "./001_foundation.js";
import { patientKeyTables } from "./002_crypto.js";
import { audit } from "./003_audit.js";
import { records } from "./004_records.js";
import { federation } from "./005_federation.js";
import { subscriptions } from "./006_subscriptions.js";
import { auditPatientIndex } from "./007_audit_patient_index.js";
import { auditTreeLayout } from "./008_audit_tree_layout.js";
import { auditSubtreesInEntries } from "./009_audit_subtrees_in_entries.js";
import { auditPatientRuns } from "./010_audit_patient_runs.js";
import { siweChallenges } from "./011_siwe_challenges.js";
import { locatorsWithoutCategories } from "./012_locators_without_categories.js";
import { sharedStateVersions } from "./013_shared_state_versions.js";
import { auditPatientChains } from "./014_audit_patient_chains.js";
import { auditPatientMap } from "./015_audit_patient_map.js";
import { categoryMasksBlinded } from "./016_category_masks_blinded.js";
import { consentCommitments } from "./017_consent_commitments.js";
import { clinicalMetadataErasable } from "./019_clinical_metadata_erasable.js";
import { patientSearchIndex } from "./020_patient_search_index.js";
import { smartOauth } from "./021_smart_oauth.js";
import { consentRequests } from "./022_consent_requests.js";
import { passport } from "./023_passport.js";
import { monitoring } from "./024_monitoring.js";
import { cdsHooks } from "./025_cds_hooks.js";
import { creditMovements } from "./026_credit_movements.js";
import { research } from "./027_research.js";
import { monitoringDelivery } from "./028_monitoring_delivery.js";

/** Every migration, in the order it runs. Names are stored: never rename, only append. */
export const migrations: Record<string, DialectMigration> = {
  "001_foundation": foundation,
  "002_crypto": patientKeyTables,
  "003_audit": audit,
  "004_records": records,
  "005_federation": federation,
  "006_subscriptions": subscriptions,
  "007_audit_patient_index": auditPatientIndex,
  "008_audit_tree_layout": auditTreeLayout,
  "009_audit_subtrees_in_entries": auditSubtreesInEntries,
  "010_audit_patient_runs": auditPatientRuns,
  "011_siwe_challenges": siweChallenges,
  "012_locators_without_categories": locatorsWithoutCategories,
  "013_shared_state_versions": sharedStateVersions,
  "014_audit_patient_chains": auditPatientChains,
  "015_audit_patient_map": auditPatientMap,
  "016_category_masks_blinded": categoryMasksBlinded,
  "017_consent_commitments": consentCommitments,
  "019_clinical_metadata_erasable": clinicalMetadataErasable,
  "020_patient_search_index": patientSearchIndex,
  "021_smart_oauth": smartOauth,
  "022_consent_requests": consentRequests,
  "023_passport": passport,
  "024_monitoring": monitoring,
  "025_cds_hooks": cdsHooks,
  "026_credit_movements": creditMovements,
  "027_research": research,
  "028_monitoring_delivery": monitoringDelivery,
};
