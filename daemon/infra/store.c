/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Migrations, in order. Append only: a released migration is never edited,
 * since databases in the field have already run it.
 */
static const char *const migrations[] = {
        /* 1: the catalogue */
        "CREATE TABLE services ("
        "  id TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN"
        "    ('draft','submitted','published','superseded','deprecated','retired')),"
        "  document TEXT NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  published_at TEXT,"
        "  PRIMARY KEY (id, revision));"
        "CREATE INDEX services_status ON services(status);"
        "CREATE TABLE service_signoffs ("
        "  service_id TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  role TEXT NOT NULL CHECK (role IN ('authority','finance')),"
        "  principal TEXT NOT NULL,"
        "  signed_at TEXT NOT NULL,"
        "  PRIMARY KEY (service_id, revision, role),"
        "  FOREIGN KEY (service_id, revision) REFERENCES services(id, revision));",
        /* 2: the regulation's records: systems, projects and approvals,
         * milestones, the audit chain, incidents; resources and operations
         * (so that what a project holds counts against its approval). */
        "CREATE TABLE systems ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  department TEXT NOT NULL,"
        "  protection_level INTEGER NOT NULL CHECK (protection_level BETWEEN 1 AND 4),"
        "  classified INTEGER NOT NULL CHECK (classified IN (0, 1)),"
        "  data_sharing TEXT NOT NULL CHECK (data_sharing IN ('compliant','noncompliant')),"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL);"
        "CREATE INDEX systems_department ON systems(department);"
        "CREATE TABLE projects ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  department TEXT NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN ('active','suspended','terminated')),"
        "  current_revision INTEGER NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL);"
        "CREATE INDEX projects_department ON projects(department);"
        "CREATE TABLE approvals ("
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  revision INTEGER NOT NULL,"
        "  approval_no TEXT NOT NULL,"
        "  document TEXT NOT NULL,"
        "  envelope TEXT NOT NULL,"
        "  key_id TEXT NOT NULL,"
        "  received_at TEXT NOT NULL,"
        "  received_by TEXT NOT NULL,"
        "  PRIMARY KEY (project_id, revision));"
        "CREATE TABLE milestones ("
        "  id INTEGER PRIMARY KEY,"
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('contract_signed','contract_filed','completed',"
        "    'acceptance_filed','self_evaluation_filed')),"
        "  date TEXT NOT NULL,"
        "  budget_year INTEGER,"
        "  recorded_at TEXT NOT NULL,"
        "  recorded_by TEXT NOT NULL);"
        "CREATE INDEX milestones_project ON milestones(project_id);"
        "CREATE TABLE project_events ("
        "  id INTEGER PRIMARY KEY,"
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  action TEXT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  principal TEXT NOT NULL,"
        "  at TEXT NOT NULL);"
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  at TEXT NOT NULL,"
        "  principal TEXT NOT NULL,"
        "  face TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  object TEXT NOT NULL,"
        "  outcome TEXT NOT NULL,"
        "  codes TEXT NOT NULL,"
        "  detail TEXT NOT NULL,"
        "  prev_hash TEXT NOT NULL,"
        "  hash TEXT NOT NULL);"
        "CREATE TABLE audit_head ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  seq INTEGER NOT NULL,"
        "  hash TEXT NOT NULL);"
        "CREATE TABLE incidents ("
        "  id TEXT PRIMARY KEY,"
        "  reported_at TEXT NOT NULL,"
        "  reported_by TEXT NOT NULL,"
        "  department TEXT,"
        "  severity TEXT NOT NULL,"
        "  systems TEXT NOT NULL,"
        "  resources TEXT NOT NULL,"
        "  description TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  report_due TEXT NOT NULL);"
        "CREATE TABLE incident_records ("
        "  id INTEGER PRIMARY KEY,"
        "  incident_id TEXT NOT NULL REFERENCES incidents(id),"
        "  at TEXT NOT NULL,"
        "  principal TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  note TEXT NOT NULL);"
        "CREATE TABLE resources ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  system_id TEXT NOT NULL,"
        "  department TEXT NOT NULL,"
        "  service_id TEXT NOT NULL,"
        "  plan_id TEXT NOT NULL,"
        "  catalog_revision INTEGER NOT NULL,"
        "  approval_no TEXT NOT NULL,"
        "  cost_kind TEXT NOT NULL CHECK (cost_kind IN ('construction','om')),"
        "  committed_fen INTEGER NOT NULL,"
        "  provider TEXT,"
        "  provider_ref TEXT,"
        "  state TEXT NOT NULL CHECK (state IN ('provisioning','active','stopped','failed',"
        "    'deprovisioning','deleted')),"
        "  idempotency_key TEXT,"
        "  request_hash TEXT,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL);"
        "CREATE INDEX resources_project ON resources(project_id);"
        "CREATE UNIQUE INDEX resources_idempotency ON resources(created_by, idempotency_key)"
        "  WHERE idempotency_key IS NOT NULL;"
        "CREATE TABLE operations ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  kind TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL);"
        "CREATE INDEX operations_resource ON operations(resource_id);",

        /* 3: providers added at run time, and which unmanaged objects were
         * already reported (Art. 10), so each is reported once. */
        "CREATE TABLE providers ("
        "  name TEXT PRIMARY KEY,"
        "  driver TEXT NOT NULL,"
        "  uri TEXT NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL);"
        "CREATE TABLE unmanaged_seen ("
        "  provider TEXT NOT NULL,"
        "  provider_ref TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  first_seen TEXT NOT NULL,"
        "  last_seen TEXT NOT NULL,"
        "  PRIMARY KEY (provider, provider_ref));"
        "CREATE INDEX operations_state ON operations(state);"
        "CREATE INDEX resources_provider ON resources(provider);",

        /* 4: when an incident happened, as reported (Art. 38). */
        "ALTER TABLE incidents ADD COLUMN occurred_at TEXT;",

        /* 5: what a project holds is counted on every request (Art. 13, 20):
         * covering indexes keep that off the table. */
        "CREATE INDEX resources_held ON resources(project_id, service_id, plan_id, state);"
        "CREATE INDEX resources_usage ON resources(project_id, state, cost_kind, committed_fen);",

        /* 6: ...and counting grew with the project (every request walked all
         * its resources). The totals are kept by triggers instead, in the
         * same transaction as the change, so no code path can forget them.
         * "Held" is the one rule here: every resource not deleted. */
        "DROP INDEX resources_held;"
        "DROP INDEX resources_usage;"
        "CREATE TABLE project_holdings ("
        "  project_id TEXT NOT NULL,"
        "  service_id TEXT NOT NULL,"
        "  plan_id TEXT NOT NULL,"
        "  cost_kind TEXT NOT NULL,"
        "  quantity INTEGER NOT NULL,"
        "  committed_fen INTEGER NOT NULL,"
        "  PRIMARY KEY (project_id, service_id, plan_id, cost_kind)) WITHOUT ROWID;"
        "INSERT INTO project_holdings SELECT project_id, service_id, plan_id, cost_kind, COUNT(*),"
        "  SUM(committed_fen) FROM resources WHERE state != 'deleted' GROUP BY 1, 2, 3, 4;"
        "CREATE TRIGGER holdings_insert AFTER INSERT ON resources WHEN NEW.state != 'deleted' BEGIN"
        "  INSERT INTO project_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.cost_kind, 1, NEW.committed_fen)"
        "  ON CONFLICT (project_id, service_id, plan_id, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1, committed_fen = committed_fen + excluded.committed_fen;"
        "END;"
        "CREATE TRIGGER holdings_delete AFTER DELETE ON resources WHEN OLD.state != 'deleted' BEGIN"
        "  UPDATE project_holdings SET quantity = quantity - 1, committed_fen = committed_fen - "
        "OLD.committed_fen"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND cost_kind = OLD.cost_kind;"
        "END;"
        /* An update moves a resource out of the totals and/or into them only
         * when it leaves or enters 'deleted' or changes what it counts as. */
        "CREATE TRIGGER holdings_update_out AFTER UPDATE ON resources WHEN OLD.state != 'deleted' AND"
        "  (NEW.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.cost_kind IS NOT OLD.cost_kind OR"
        "   NEW.committed_fen IS NOT OLD.committed_fen) BEGIN"
        "  UPDATE project_holdings SET quantity = quantity - 1, committed_fen = committed_fen - "
        "OLD.committed_fen"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND cost_kind = OLD.cost_kind;"
        "END;"
        "CREATE TRIGGER holdings_update_in AFTER UPDATE ON resources WHEN NEW.state != 'deleted' AND"
        "  (OLD.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.cost_kind IS NOT OLD.cost_kind OR"
        "   NEW.committed_fen IS NOT OLD.committed_fen) BEGIN"
        "  INSERT INTO project_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.cost_kind, 1, NEW.committed_fen)"
        "  ON CONFLICT (project_id, service_id, plan_id, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1, committed_fen = committed_fen + excluded.committed_fen;"
        "END;",

        /* 7: block volumes are resources too; what a resource is decides
         * which operations apply to it and what reconcile looks for. */
        "ALTER TABLE resources ADD COLUMN kind TEXT NOT NULL DEFAULT 'vm' CHECK (kind IN ('vm','volume'));",

        /* 8: a provider may insist on a domain type (a host whose /dev/kvm
         * QEMU cannot open runs "qemu", TCG). */
        "ALTER TABLE providers ADD COLUMN domain_type TEXT NOT NULL DEFAULT 'auto'"
        " CHECK (domain_type IN ('auto','kvm','qemu'));",

        /* 9: signed checkpoints of the audit trail (RFC 6962's signed tree
         * head): id numbers them without gaps; seq 0 is the empty trail. */
        "CREATE TABLE audit_checkpoints ("
        "  id INTEGER PRIMARY KEY,"
        "  seq INTEGER NOT NULL,"
        "  hash TEXT NOT NULL,"
        "  at TEXT NOT NULL,"
        "  every INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  alg TEXT NOT NULL,"
        "  key_id TEXT NOT NULL,"
        "  signature TEXT NOT NULL);",

        /* 10: lists come in keyset pages (created_at, id): one index per
         * filter, so a page reads its 101 rows instead of sorting them all. */
        "CREATE INDEX IF NOT EXISTS resources_list_project ON resources(project_id, created_at, id);"
        "CREATE INDEX IF NOT EXISTS resources_list_department ON resources(department, created_at, id);"
        "CREATE INDEX IF NOT EXISTS resources_list_created ON resources(created_at, id);",

        /* 11: the register of legacy systems to move onto the municipal
         * cloud (Art. 35), one record per system of the directory. The
         * source, the assessment, the plan and an exemption are JSON
         * documents the core reads whole; the exemption is a column of
         * its own so that it is never implied by a state alone. */
        "CREATE TABLE IF NOT EXISTS legacy_systems ("
        "  system_id TEXT NOT NULL PRIMARY KEY,"
        "  department TEXT NOT NULL,"
        "  hosting_kind TEXT NOT NULL CHECK (hosting_kind IN ('server-room','industry-cloud','other')),"
        "  hosting_location TEXT NOT NULL,"
        "  source TEXT NOT NULL,"
        "  deadline TEXT NOT NULL,"
        "  wave TEXT,"
        "  state TEXT NOT NULL CHECK (state IN ('registered','assessed','planned','migrating',"
        "    'cut-over','verified','decommissioned','failed','exempt')),"
        "  state_reason TEXT,"
        "  exemption TEXT,"
        "  assessment TEXT,"
        "  plan TEXT,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS legacy_systems_department ON legacy_systems(department, system_id);",

        /* 12: metering (docs/billing.md). A resource's history is a list of
         * segments, (resource, seq, state, start): a segment ends where the
         * next one starts, so there is nothing to close and nothing is ever
         * edited, and the history has neither gaps nor overlaps. The
         * triggers write it in the transaction of the change itself; only a
         * real change of state adds one, so a replayed operation (the state
         * is already what it sets) adds none, and (resource, seq) cannot be
         * taken twice. Resources from before metering start with their
         * current state at their last change. IF NOT EXISTS, as 10: a test
         * replays migrations on a database that has them. */
        "CREATE TABLE IF NOT EXISTS usage_segments ("
        "  resource_id TEXT NOT NULL,"
        "  seq INTEGER NOT NULL CHECK (seq >= 1),"
        "  state TEXT NOT NULL CHECK (state IN ('provisioning','active','stopped','failed',"
        "    'deprovisioning','deleted')),"
        "  start_at TEXT NOT NULL,"
        "  PRIMARY KEY (resource_id, seq));"
        "INSERT INTO usage_segments (resource_id, seq, state, start_at)"
        "  SELECT id, 1, state, updated_at FROM resources r"
        "  WHERE NOT EXISTS (SELECT 1 FROM usage_segments u WHERE u.resource_id = r.id);"
        "CREATE TRIGGER IF NOT EXISTS usage_open AFTER INSERT ON resources BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.created_at)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;"
        "CREATE TRIGGER IF NOT EXISTS usage_change AFTER UPDATE OF state ON resources WHEN NEW.state IS NOT "
        "OLD.state BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.updated_at)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;",

        /* 13: closed billing statements (docs/billing.md): the files as
         * they were made when finance closed the month, each with its SM3
         * and the daemon's signature; department '' is the whole city. */
        "CREATE TABLE IF NOT EXISTS billing_closed ("
        "  period TEXT PRIMARY KEY,"
        "  closed_at TEXT NOT NULL,"
        "  closed_by TEXT NOT NULL,"
        "  alg TEXT NOT NULL,"
        "  key_id TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS billing_closed_files ("
        "  period TEXT NOT NULL REFERENCES billing_closed(period),"
        "  department TEXT NOT NULL,"
        "  format TEXT NOT NULL CHECK (format IN ('json','csv')),"
        "  body TEXT NOT NULL,"
        "  sm3 TEXT NOT NULL,"
        "  signature TEXT NOT NULL,"
        "  PRIMARY KEY (period, department, format));",

        /* 14: adjustments of closed months: separate lines, never
         * rewrites; in force once finance and the authority both signed. */
        "CREATE TABLE IF NOT EXISTS billing_adjustments ("
        "  id TEXT PRIMARY KEY,"
        "  period TEXT NOT NULL REFERENCES billing_closed(period),"
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  department TEXT NOT NULL,"
        "  approval_no TEXT,"
        "  amount_fen INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS billing_adjustments_period ON billing_adjustments(period, created_at, "
        "id);"
        "CREATE TABLE IF NOT EXISTS billing_adjustment_signoffs ("
        "  adjustment_id TEXT NOT NULL REFERENCES billing_adjustments(id),"
        "  role TEXT NOT NULL CHECK (role IN ('authority','finance')),"
        "  principal TEXT NOT NULL,"
        "  signed_at TEXT NOT NULL,"
        "  PRIMARY KEY (adjustment_id, role));",

        /* 15: a month's statement reads the segment in force when it began
         * and those starting in it: a seek per resource, not its history. */
        "CREATE INDEX IF NOT EXISTS usage_segments_start ON usage_segments(resource_id, start_at);",

        /* 16: http (OSB) providers: basic-auth credentials, the API version
         * they speak, an optional CA file; NULL for libvirt providers. */
        "ALTER TABLE providers ADD COLUMN username TEXT;"
        "ALTER TABLE providers ADD COLUMN password TEXT;"
        "ALTER TABLE providers ADD COLUMN api_version TEXT;"
        "ALTER TABLE providers ADD COLUMN ca_file TEXT;"
        "ALTER TABLE providers ADD COLUMN timeout_seconds INTEGER;",

        /* 17: resources of kind 'service' (an Open Service Broker instance
         * on an http provider), and what an asynchronous operation at such
         * a provider needs to resume after a restart: the provider's
         * operation token and the phase (provision, poll, mitigate). SQLite
         * cannot widen a CHECK: the table is rebuilt, with its indexes and
         * triggers as migrations 1-16 left them (holdings 6, metering 12) (store_migrate turns the
         * foreign keys off around a migration and checks them before it
         * commits; PostgreSQL: ALTER TABLE ... DROP/ADD CONSTRAINT). */
        "CREATE TABLE resources_new ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  project_id TEXT NOT NULL REFERENCES projects(id),"
        "  system_id TEXT NOT NULL,"
        "  department TEXT NOT NULL,"
        "  service_id TEXT NOT NULL,"
        "  plan_id TEXT NOT NULL,"
        "  catalog_revision INTEGER NOT NULL,"
        "  approval_no TEXT NOT NULL,"
        "  cost_kind TEXT NOT NULL CHECK (cost_kind IN ('construction','om')),"
        "  committed_fen INTEGER NOT NULL,"
        "  provider TEXT,"
        "  provider_ref TEXT,"
        "  state TEXT NOT NULL CHECK (state IN ('provisioning','active','stopped','failed',"
        "    'deprovisioning','deleted')),"
        "  idempotency_key TEXT,"
        "  request_hash TEXT,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  kind TEXT NOT NULL DEFAULT 'vm' CHECK (kind IN ('vm','volume','service')));"
        "INSERT INTO resources_new (id, name, project_id, system_id, department, service_id, plan_id,"
        "  catalog_revision, approval_no, cost_kind, committed_fen, provider, provider_ref, state,"
        "  idempotency_key, request_hash, created_at, created_by, updated_at, kind)"
        "  SELECT id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,"
        "  approval_no, cost_kind, committed_fen, provider, provider_ref, state, idempotency_key,"
        "  request_hash, created_at, created_by, updated_at, kind FROM resources;"
        "DROP TABLE resources;"
        "ALTER TABLE resources_new RENAME TO resources;"
        "CREATE INDEX resources_project ON resources(project_id);"
        "CREATE UNIQUE INDEX resources_idempotency ON resources(created_by, idempotency_key)"
        "  WHERE idempotency_key IS NOT NULL;"
        "CREATE INDEX resources_provider ON resources(provider);"
        "CREATE INDEX resources_list_project ON resources(project_id, created_at, id);"
        "CREATE INDEX resources_list_department ON resources(department, created_at, id);"
        "CREATE INDEX resources_list_created ON resources(created_at, id);"
        "CREATE TRIGGER holdings_insert AFTER INSERT ON resources WHEN NEW.state != 'deleted' BEGIN"
        "  INSERT INTO project_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.cost_kind, 1, NEW.committed_fen)"
        "  ON CONFLICT (project_id, service_id, plan_id, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1, committed_fen = committed_fen + excluded.committed_fen;"
        "END;"
        "CREATE TRIGGER holdings_delete AFTER DELETE ON resources WHEN OLD.state != 'deleted' BEGIN"
        "  UPDATE project_holdings SET quantity = quantity - 1, committed_fen = committed_fen - "
        "OLD.committed_fen"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND cost_kind = OLD.cost_kind;"
        "END;"
        "CREATE TRIGGER holdings_update_out AFTER UPDATE ON resources WHEN OLD.state != 'deleted' AND"
        "  (NEW.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.cost_kind IS NOT OLD.cost_kind OR"
        "   NEW.committed_fen IS NOT OLD.committed_fen) BEGIN"
        "  UPDATE project_holdings SET quantity = quantity - 1, committed_fen = committed_fen - "
        "OLD.committed_fen"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND cost_kind = OLD.cost_kind;"
        "END;"
        "CREATE TRIGGER holdings_update_in AFTER UPDATE ON resources WHEN NEW.state != 'deleted' AND"
        "  (OLD.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.cost_kind IS NOT OLD.cost_kind OR"
        "   NEW.committed_fen IS NOT OLD.committed_fen) BEGIN"
        "  INSERT INTO project_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.cost_kind, 1, NEW.committed_fen)"
        "  ON CONFLICT (project_id, service_id, plan_id, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1, committed_fen = committed_fen + excluded.committed_fen;"
        "END;"
        "CREATE TRIGGER usage_open AFTER INSERT ON resources BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.created_at)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;"
        "CREATE TRIGGER usage_change AFTER UPDATE OF state ON resources WHEN NEW.state IS NOT "
        "OLD.state BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.updated_at)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;"
        "ALTER TABLE operations ADD COLUMN remote_operation TEXT;"
        "ALTER TABLE operations ADD COLUMN remote_phase TEXT;",

        /* 18: incident statuses and operation kinds are checked like every
         * other state (the names of daemon/core/states.h, held together by
         * tests/unit/test-states.c). SQLite adds a CHECK only by rebuilding
         * the table: new table, copy, drop, rename. The records are rebuilt
         * pointing at the new incidents table, which the rename carries
         * over, so no row is ever orphaned while foreign keys are on. */
        "CREATE TABLE incidents_new ("
        "  id TEXT PRIMARY KEY,"
        "  reported_at TEXT NOT NULL,"
        "  reported_by TEXT NOT NULL,"
        "  department TEXT,"
        "  severity TEXT NOT NULL,"
        "  systems TEXT NOT NULL,"
        "  resources TEXT NOT NULL,"
        "  description TEXT NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN ('open','handling','reported','resolved')),"
        "  report_due TEXT NOT NULL,"
        "  occurred_at TEXT);"
        "INSERT INTO incidents_new (id, reported_at, reported_by, department, severity, systems, resources,"
        "  description, status, report_due, occurred_at) SELECT id, reported_at, reported_by, department,"
        "  severity, systems, resources, description, status, report_due, occurred_at FROM incidents;"
        "CREATE TABLE incident_records_new ("
        "  id INTEGER PRIMARY KEY,"
        "  incident_id TEXT NOT NULL REFERENCES incidents_new(id),"
        "  at TEXT NOT NULL,"
        "  principal TEXT NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN ('open','handling','reported','resolved')),"
        "  note TEXT NOT NULL);"
        "INSERT INTO incident_records_new (id, incident_id, at, principal, status, note)"
        "  SELECT id, incident_id, at, principal, status, note FROM incident_records;"
        "DROP TABLE incident_records;"
        "DROP TABLE incidents;"
        "ALTER TABLE incidents_new RENAME TO incidents;"
        "ALTER TABLE incident_records_new RENAME TO incident_records;"
        "CREATE TABLE operations_new ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('provision','start','stop','reboot','deprovision')),"
        "  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  remote_operation TEXT,"
        "  remote_phase TEXT);"
        "INSERT INTO operations_new (id, resource_id, kind, state, error, created_at, updated_at,"
        "  remote_operation, remote_phase) SELECT id, resource_id, kind, state, error, created_at,"
        "  updated_at, remote_operation, remote_phase FROM operations;"
        "DROP TABLE operations;"
        "ALTER TABLE operations_new RENAME TO operations;"
        "CREATE INDEX operations_resource ON operations(resource_id);"
        "CREATE INDEX operations_state ON operations(state);",

        /* 19: each provider's OS image library (issue 9): an image is a
         * volume in the pool the provider names for images, recorded with
         * the digest it had when it was registered. */
        "ALTER TABLE providers ADD COLUMN image_pool TEXT;"
        "CREATE TABLE IF NOT EXISTS images ("
        "  provider TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  pool TEXT NOT NULL,"
        "  volume TEXT NOT NULL,"
        "  os TEXT NOT NULL,"
        "  os_version TEXT NOT NULL,"
        "  arch TEXT NOT NULL,"
        "  format TEXT NOT NULL CHECK (format IN ('qcow2','raw')),"
        "  digest_alg TEXT NOT NULL CHECK (digest_alg IN ('sha256','sm3')),"
        "  digest TEXT NOT NULL,"
        "  size_bytes INTEGER NOT NULL,"
        "  min_disk_gib INTEGER NOT NULL,"
        "  secure_controllable INTEGER NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('active','retired')),"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  retired_at TEXT,"
        "  retired_by TEXT,"
        "  PRIMARY KEY (provider, name));"
        "CREATE INDEX IF NOT EXISTS images_name ON images(name);",

        /* 20: what an order says about a VM's first boot (its SSH keys and
         * cloud-config), kept so that a resumed provision builds the same
         * seed; never copied into the audit trail. */
        "CREATE TABLE IF NOT EXISTS resource_first_boot ("
        "  resource_id TEXT PRIMARY KEY REFERENCES resources(id),"
        "  ssh_authorized_keys TEXT NOT NULL,"
        "  user_data TEXT);",

        /* 21: access bindings of VMs (an OSB binding): an SSH key pair made
         * for the binding, its public half for injection, the private half
         * readable only by whoever bound (dropped at unbind). binding_key is
         * the binder's own id, unique per binder as an idempotency key. */
        "CREATE TABLE IF NOT EXISTS vm_bindings ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  binding_key TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  request_hash TEXT NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  private_key TEXT,"
        "  created_at TEXT NOT NULL,"
        "  deleted_at TEXT,"
        "  UNIQUE (created_by, binding_key));"
        "CREATE INDEX IF NOT EXISTS vm_bindings_resource ON vm_bindings(resource_id);",

        /* 22: budget alerts (Art. 13, docs/billing.md): each threshold a
         * project's money reached of its approval's budget, per cost kind,
         * once; remembered so that a restart does not raise it again. */
        "CREATE TABLE IF NOT EXISTS budget_alerts ("
        "  project_id TEXT NOT NULL,"
        "  cost_kind TEXT NOT NULL CHECK (cost_kind IN ('construction','om')),"
        "  threshold INTEGER NOT NULL CHECK (threshold IN (80, 100)),"
        "  approval_no TEXT NOT NULL,"
        "  budget_fen INTEGER NOT NULL,"
        "  used_fen INTEGER NOT NULL,"
        "  raised_at TEXT NOT NULL,"
        "  PRIMARY KEY (project_id, cost_kind, threshold));",

        /* 23: block volumes attached to VMs (issue 9). An attachment is a
         * row before the provider hears of it (attaching), and a volume is
         * on one VM at most (its primary key). The operations that attach
         * and detach name the volume they move; a VM's deletion may take its
         * volumes with it (delete_volumes). */
        "CREATE TABLE volume_attachments ("
        "  volume_id TEXT PRIMARY KEY REFERENCES resources(id),"
        "  vm_id TEXT NOT NULL REFERENCES resources(id),"
        "  target TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('attaching','attached','detaching')),"
        "  created_at TEXT NOT NULL,"
        "  UNIQUE (vm_id, target));"
        "CREATE INDEX volume_attachments_vm ON volume_attachments(vm_id);"
        "CREATE TABLE operations_new ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('provision','start','stop','reboot','deprovision',"
        "    'attach','detach')),"
        "  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  remote_operation TEXT,"
        "  remote_phase TEXT,"
        "  volume_id TEXT,"
        "  delete_volumes INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO operations_new (id, resource_id, kind, state, error, created_at, updated_at,"
        "  remote_operation, remote_phase) SELECT id, resource_id, kind, state, error, created_at,"
        "  updated_at, remote_operation, remote_phase FROM operations;"
        "DROP TABLE operations;"
        "ALTER TABLE operations_new RENAME TO operations;"
        "CREATE INDEX operations_resource ON operations(resource_id);"
        "CREATE INDEX operations_state ON operations(state);",

        /* 24: industry clouds under management (Art. 35): a managed_only
         * provider is inventoried, never provisioned on. */
        "ALTER TABLE providers ADD COLUMN managed_only INTEGER NOT NULL DEFAULT 0;",

        /* 25: a VM's addresses as last read from its provider (the DHCP
         * leases of its network), a JSON array, and when they were read. */
        "CREATE TABLE IF NOT EXISTS resource_addresses ("
        "  resource_id TEXT PRIMARY KEY REFERENCES resources(id),"
        "  addresses TEXT NOT NULL,"
        "  read_at TEXT NOT NULL);",

        /* 26: resize (issue 9): an operation of its own kind, carrying the
         * plan it moves to and the one it rolls back to (`resize`, a JSON
         * object, see daemon/core/resize.c); operations is rebuilt with every
         * column it has by now. A usage segment names the plan and catalogue
         * revision it was metered at, so that a statement prices each part
         * of a resized VM's month at its own plan: the segments so far get
         * their resource's (no plan ever changed before), the triggers write
         * NEW's, and a change of plan alone (usage_plan) starts a segment in
         * the same state at the new plan. */
        "CREATE TABLE operations_new ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('provision','start','stop','reboot','deprovision',"
        "    'attach','detach','resize')),"
        "  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  remote_operation TEXT,"
        "  remote_phase TEXT,"
        "  volume_id TEXT,"
        "  delete_volumes INTEGER NOT NULL DEFAULT 0,"
        "  resize TEXT);"
        "INSERT INTO operations_new (id, resource_id, kind, state, error, created_at, updated_at,"
        "  remote_operation, remote_phase, volume_id, delete_volumes) SELECT id, resource_id, kind, state,"
        "  error, created_at, updated_at, remote_operation, remote_phase, volume_id, delete_volumes"
        "  FROM operations;"
        "DROP TABLE operations;"
        "ALTER TABLE operations_new RENAME TO operations;"
        "CREATE INDEX operations_resource ON operations(resource_id);"
        "CREATE INDEX operations_state ON operations(state);"
        "ALTER TABLE usage_segments ADD COLUMN plan_id TEXT;"
        "ALTER TABLE usage_segments ADD COLUMN catalog_revision INTEGER;"
        "UPDATE usage_segments SET plan_id = (SELECT r.plan_id FROM resources r WHERE r.id = resource_id),"
        "  catalog_revision = (SELECT r.catalog_revision FROM resources r WHERE r.id = resource_id);"
        "DROP TRIGGER IF EXISTS usage_open;"
        "DROP TRIGGER IF EXISTS usage_change;"
        "DROP TRIGGER IF EXISTS usage_plan;"
        "CREATE TRIGGER usage_open AFTER INSERT ON resources BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at, plan_id, catalog_revision)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.created_at, NEW.plan_id, NEW.catalog_revision)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;"
        "CREATE TRIGGER usage_change AFTER UPDATE OF state ON resources WHEN NEW.state IS NOT "
        "OLD.state BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at, plan_id, catalog_revision)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.updated_at, NEW.plan_id, NEW.catalog_revision)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;"
        "CREATE TRIGGER usage_plan AFTER UPDATE OF plan_id, catalog_revision ON resources WHEN"
        "  NEW.state IS OLD.state AND (NEW.plan_id IS NOT OLD.plan_id OR"
        "  NEW.catalog_revision IS NOT OLD.catalog_revision) BEGIN"
        "  INSERT INTO usage_segments (resource_id, seq, state, start_at, plan_id, catalog_revision)"
        "  VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM usage_segments WHERE resource_id = NEW.id),"
        "    NEW.state, NEW.updated_at, NEW.plan_id, NEW.catalog_revision)"
        "  ON CONFLICT (resource_id, seq) DO NOTHING;"
        "END;",

        /* 27: bindings of http (OSB) resources: the provider's credentials,
         * sealed (secretbox), and where a binding or unbinding in flight
         * stands (phase, remote_operation), so a restart resumes it. One
         * binder's key names one binding, ever. */
        "CREATE TABLE IF NOT EXISTS service_bindings ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  binding_key TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  request_hash TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('creating','bound','unbinding','unbound','failed')),"
        "  phase TEXT,"
        "  remote_operation TEXT,"
        "  credentials TEXT,"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  deleted_at TEXT,"
        "  UNIQUE (created_by, binding_key));"
        "CREATE INDEX IF NOT EXISTS service_bindings_resource ON service_bindings(resource_id);",

        /* 28: adoption is an operation of its own (issue 12, Art. 35): kind
         * 'adopt', and the provider's domain it takes over (adopt_domain), so
         * that a restart finds an adoption cut short and finishes it. A CHECK
         * widened: the table is rebuilt with every column it has by now. */
        "CREATE TABLE operations_new ("
        "  id TEXT PRIMARY KEY,"
        "  resource_id TEXT NOT NULL REFERENCES resources(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('provision','start','stop','reboot','deprovision',"
        "    'attach','detach','resize','adopt')),"
        "  state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed')),"
        "  error TEXT,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  remote_operation TEXT,"
        "  remote_phase TEXT,"
        "  volume_id TEXT,"
        "  delete_volumes INTEGER NOT NULL DEFAULT 0,"
        "  resize TEXT,"
        "  adopt_domain TEXT);"
        "INSERT INTO operations_new (id, resource_id, kind, state, error, created_at, updated_at,"
        "  remote_operation, remote_phase, volume_id, delete_volumes, resize) SELECT id, resource_id, kind,"
        "  state, error, created_at, updated_at, remote_operation, remote_phase, volume_id, delete_volumes,"
        "  resize FROM operations;"
        "DROP TABLE operations;"
        "ALTER TABLE operations_new RENAME TO operations;"
        "CREATE INDEX operations_resource ON operations(resource_id);"
        "CREATE INDEX operations_state ON operations(state);",

        /* 29: the budget's money per project (Art. 13, daemon/core/billing.c,
         * billing_project_spend()) as of a day, so that an evaluation reads
         * one row instead of rating the project's whole history. It is what
         * a full re-rating gives, as long as no segment of the project
         * changed: every segment written, and every change of what a
         * resource is priced or counted as, drops the project's row in the
         * same transaction, and the next evaluation rates it again. */
        "CREATE TABLE billing_spend_cache ("
        "  project_id TEXT PRIMARY KEY,"
        "  today TEXT NOT NULL,"
        "  valid_until TEXT NOT NULL,"
        "  charged_construction_fen INTEGER NOT NULL,"
        "  charged_om_fen INTEGER NOT NULL,"
        "  committed_construction_fen INTEGER NOT NULL,"
        "  committed_om_fen INTEGER NOT NULL);"
        "CREATE TRIGGER spend_cache_segment AFTER INSERT ON usage_segments BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN"
        "    (SELECT project_id FROM resources WHERE id = NEW.resource_id);"
        "END;"
        "CREATE TRIGGER spend_cache_segment_gone AFTER DELETE ON usage_segments BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN"
        "    (SELECT project_id FROM resources WHERE id = OLD.resource_id);"
        "END;"
        "CREATE TRIGGER spend_cache_resource AFTER UPDATE OF project_id, service_id, plan_id,"
        "  catalog_revision, cost_kind, created_at ON resources BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN (OLD.project_id, NEW.project_id);"
        "END;"
        "CREATE TRIGGER spend_cache_resource_gone AFTER DELETE ON resources BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id = OLD.project_id;"
        "END;",

        /* 30: ...but during a burst of orders every order wrote a segment,
         * so every evaluation re-rated the whole history (O(n^2)). The row
         * now keeps only what was charged before today (CST), which no
         * segment starting today and no close of one open at the start of
         * today changes: it is dropped by a segment starting before the
         * day it was rated for (a backdated write), a deleted segment, or
         * a re-pricing of a resource, and is stale anyway at a day's
         * roll-over (another key). What existing resources commit from
         * today on depends only on how many there are of each price: their
         * counts are kept by triggers (project_priced_holdings, "existing"
         * as in project_holdings: not deleted), in the same transaction. */
        "DROP TRIGGER IF EXISTS spend_cache_segment;"
        "DROP TRIGGER IF EXISTS spend_cache_segment_gone;"
        "DROP TRIGGER IF EXISTS spend_cache_resource;"
        "DROP TRIGGER IF EXISTS spend_cache_resource_gone;"
        "DROP TABLE billing_spend_cache;"
        "CREATE TABLE billing_spend_cache ("
        "  project_id TEXT PRIMARY KEY,"
        "  today TEXT NOT NULL,"
        "  day_start_at TEXT NOT NULL,"
        "  charged_construction_fen INTEGER NOT NULL,"
        "  charged_om_fen INTEGER NOT NULL);"
        "CREATE TRIGGER spend_cache_segment AFTER INSERT ON usage_segments BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN"
        "    (SELECT project_id FROM resources WHERE id = NEW.resource_id) AND NEW.start_at < day_start_at;"
        "END;"
        "CREATE TRIGGER spend_cache_segment_gone AFTER DELETE ON usage_segments BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN"
        "    (SELECT project_id FROM resources WHERE id = OLD.resource_id);"
        "END;"
        "CREATE TRIGGER spend_cache_segment_changed AFTER UPDATE ON usage_segments BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN"
        "    (SELECT project_id FROM resources WHERE id IN (OLD.resource_id, NEW.resource_id));"
        "END;"
        /* A plan change also writes a segment (usage_plan), which carries
         * the plan; the resource's own columns price the older ones. */
        "CREATE TRIGGER spend_cache_resource AFTER UPDATE OF project_id, service_id, plan_id,"
        "  catalog_revision, cost_kind, created_at ON resources WHEN NEW.project_id IS NOT OLD.project_id"
        "  OR NEW.service_id IS NOT OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR"
        "  NEW.catalog_revision IS NOT OLD.catalog_revision OR NEW.cost_kind IS NOT OLD.cost_kind OR"
        "  NEW.created_at IS NOT OLD.created_at BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id IN (OLD.project_id, NEW.project_id);"
        "END;"
        "CREATE TRIGGER spend_cache_resource_gone AFTER DELETE ON resources BEGIN"
        "  DELETE FROM billing_spend_cache WHERE project_id = OLD.project_id;"
        "END;"
        "CREATE TABLE project_priced_holdings ("
        "  project_id TEXT NOT NULL,"
        "  service_id TEXT NOT NULL,"
        "  plan_id TEXT NOT NULL,"
        "  catalog_revision INTEGER NOT NULL,"
        "  cost_kind TEXT NOT NULL,"
        "  quantity INTEGER NOT NULL,"
        "  PRIMARY KEY (project_id, service_id, plan_id, catalog_revision, cost_kind)) WITHOUT ROWID;"
        "INSERT INTO project_priced_holdings SELECT project_id, service_id, plan_id, catalog_revision,"
        "  cost_kind, COUNT(*) FROM resources WHERE state != 'deleted' GROUP BY 1, 2, 3, 4, 5;"
        "CREATE TRIGGER priced_insert AFTER INSERT ON resources WHEN NEW.state != 'deleted' BEGIN"
        "  INSERT INTO project_priced_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.catalog_revision, NEW.cost_kind, 1)"
        "  ON CONFLICT (project_id, service_id, plan_id, catalog_revision, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1;"
        "END;"
        "CREATE TRIGGER priced_delete AFTER DELETE ON resources WHEN OLD.state != 'deleted' BEGIN"
        "  UPDATE project_priced_holdings SET quantity = quantity - 1"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND catalog_revision = OLD.catalog_revision AND cost_kind = OLD.cost_kind;"
        "END;"
        "CREATE TRIGGER priced_update_out AFTER UPDATE ON resources WHEN OLD.state != 'deleted' AND"
        "  (NEW.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.catalog_revision IS NOT"
        "   OLD.catalog_revision OR NEW.cost_kind IS NOT OLD.cost_kind) BEGIN"
        "  UPDATE project_priced_holdings SET quantity = quantity - 1"
        "  WHERE project_id = OLD.project_id AND service_id = OLD.service_id AND plan_id = OLD.plan_id"
        "    AND catalog_revision = OLD.catalog_revision AND cost_kind = OLD.cost_kind;"
        "END;"
        "CREATE TRIGGER priced_update_in AFTER UPDATE ON resources WHEN NEW.state != 'deleted' AND"
        "  (OLD.state = 'deleted' OR NEW.project_id IS NOT OLD.project_id OR NEW.service_id IS NOT"
        "   OLD.service_id OR NEW.plan_id IS NOT OLD.plan_id OR NEW.catalog_revision IS NOT"
        "   OLD.catalog_revision OR NEW.cost_kind IS NOT OLD.cost_kind) BEGIN"
        "  INSERT INTO project_priced_holdings VALUES (NEW.project_id, NEW.service_id, NEW.plan_id,"
        "    NEW.catalog_revision, NEW.cost_kind, 1)"
        "  ON CONFLICT (project_id, service_id, plan_id, catalog_revision, cost_kind) DO UPDATE SET"
        "    quantity = quantity + 1;"
        "END;",

        /* 31: which block volume the provider shows on which domain, where
         * that differs from volume_attachments (daemon/core/reconcile.c): a
         * row per drift while it lasts, so that it is reported once and its
         * end is on record too. kind 'missing': recorded on vm_id, not on
         * its domain; 'unrecorded': on domain, not recorded there. */
        "CREATE TABLE attachment_drift ("
        "  provider TEXT NOT NULL,"
        "  volume_id TEXT NOT NULL,"
        "  domain TEXT NOT NULL,"
        "  kind TEXT NOT NULL CHECK (kind IN ('missing','unrecorded')),"
        "  vm_id TEXT,"
        "  target TEXT,"
        "  first_seen TEXT NOT NULL,"
        "  PRIMARY KEY (provider, volume_id, domain));",

        /* 32: the parameters a department sent with a binding
         * (daemon/core/bindings.c) or an order of an http instance (on its
         * provision operation, daemon/core/operations-http.c), sealed like
         * credentials (they may hold secrets), so that a resumed request
         * sends them again and a repeat of it can be told from another. */
        "ALTER TABLE service_bindings ADD COLUMN parameters TEXT;"
        "ALTER TABLE operations ADD COLUMN parameters TEXT;",

        /* 33: a closed statement's file is stored as slices of at most 256
         * KiB (daemon/core/billing.c), never as one value: a close writes
         * them as it renders, an export reads them one by one, so nothing
         * holds a file whole. A slice counts only once its month is in
         * billing_closed (the close's last transaction); slices of a month
         * not closed are what a crashed close left (billing_recover()
         * drops them). size: the file's length, to check the slices
         * against. Files stored whole before are cut here, byte for byte
         * (substr of a BLOB counts bytes), so they export the same. */
        "CREATE TABLE billing_closed_slices ("
        "  period TEXT NOT NULL,"
        "  department TEXT NOT NULL,"
        "  format TEXT NOT NULL CHECK (format IN ('json','csv')),"
        "  seq INTEGER NOT NULL,"
        "  data BLOB NOT NULL,"
        "  PRIMARY KEY (period, department, format, seq));"
        "ALTER TABLE billing_closed_files ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"
        "UPDATE billing_closed_files SET size = length(CAST(body AS BLOB));"
        "WITH RECURSIVE n(seq) AS (SELECT 0 UNION ALL SELECT seq + 1 FROM n"
        "  WHERE (seq + 1) * 262144 < (SELECT COALESCE(MAX(size), 0) FROM billing_closed_files))"
        "INSERT INTO billing_closed_slices (period, department, format, seq, data)"
        "  SELECT f.period, f.department, f.format, n.seq,"
        "    substr(CAST(f.body AS BLOB), n.seq * 262144 + 1, 262144)"
        "  FROM billing_closed_files f JOIN n ON n.seq * 262144 < f.size;"
        "ALTER TABLE billing_closed_files DROP COLUMN body;",
};

/* Larger than the number of distinct statements the daemon prepares, so a
 * hot statement is never evicted by a cold one. */
#define STMT_CACHE_SIZE 512

typedef struct StoreDeferred {
        StoreDeferredFn fn;
        void *userdata;
        int level;
} StoreDeferred;

static void run_deferred(Store *s, int from, int result);

/* A memo statement kept until the read snapshot it was made in ends: its
 * own copy of the values (args[k].text points into texts). */
typedef struct StoreMemo {
        const char *sql, *what;
        StoreArg *args;
        char *texts;
} StoreMemo;
static void memos_clear(Store *s);

struct Store {
        sqlite3 *db;
        char *path;
        struct {
                const char *sql; /* compared by pointer: callers pass literals */
                sqlite3_stmt *stmt;
        } cache[STMT_CACHE_SIZE];
        size_t n_cache;
        int depth;
        bool batching, batch_open;
        int relaxed;    /* store_relaxed_begin() levels open */
        bool unsynced;  /* a relaxed commit may not be on disk yet */
        bool relax_tx;  /* the open transaction commits relaxed */
        uint64_t syncs; /* WAL flushes done (store_sync_count) */
        int wal_fd;     /* the -wal file, kept open for store_sync once found; valid if wal_open */
        bool wal_open;
        uint64_t epoch; /* store_epoch() */
        StoreDeferred *deferred;
        size_t n_deferred;
        StoreMemo *memos; /* kept during a read snapshot, run after it */
        size_t n_memos;
        AuditTrail *audit;
        uint64_t serial;
};

static uint64_t next_serial(void) {
        static uint64_t last;
        return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

uint64_t store_serial(const Store *s) {
        return s ? s->serial : 0;
}

void store_set_audit(Store *s, AuditTrail *t) {
        s->audit = t;
}

AuditTrail *store_audit(Store *s) {
        return s ? s->audit : NULL;
}

int store_latest_version(void) {
        return (int)ELEMENTSOF(migrations);
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

int store_error(Store *s, CbError *err, const char *what) {
        return cb_error_set(err, CB_ERR_INTERNAL, "database error while %s: %s", what,
                            s && s->db ? sqlite3_errmsg(s->db) : "not open");
}

static int mkdir_parents(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(copy, 0750) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int store_exec(Store *s, const char *sql, CbError *err) {
        s->epoch++; /* raw SQL may change anything */
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = cb_error_set(err, CB_ERR_INTERNAL, "database error: %s", msg ? msg : "unknown");
                sqlite3_free(msg);
                return r;
        }
        /* Statements outside a transaction committed each on its own: on
         * disk before the caller goes on, as store_commit() does it. */
        if (sqlite3_get_autocommit(s->db)) {
                s->unsynced = true;
                int r = store_sync(s);
                if (r < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot flush the journal: %s",
                                            strerror(-r));
        }
        return 0;
}

int store_schema_version(Store *s) {
        sqlite3_stmt *st;
        int v = -1;
        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v < 0 ? -EIO : v;
}

/* Runs the migrations after the file's version up to and including target. */
static int store_migrate(Store *s, int target, CbError *err) {
        int have = store_schema_version(s);
        if (have < 0)
                return store_error(s, err, "reading the schema version");
        if (have > store_latest_version())
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "%s has schema version %d, newer than this cloudbrokerd knows (%d)",
                                    s->path, have, store_latest_version());
        if (have > target)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "%s has schema version %d, past the version %d asked for "
                                    "(a schema is never taken back)",
                                    s->path, have, target);
        /* Off while the schema changes (a table rebuilt drops and renames;
         * PRAGMA foreign_keys is a no-op inside a transaction), checked
         * before each commit instead. */
        if (have < target && store_exec(s, "PRAGMA foreign_keys = OFF", err) < 0)
                return -EIO;
        for (int v = have; v < target; v++) {
                char pragma[64];
                int r;

                r = store_exec(s, "BEGIN IMMEDIATE", err);
                if (r < 0)
                        return r;
                r = store_exec(s, migrations[v], err);
                if (r >= 0) {
                        sqlite3_stmt *fk = NULL;
                        if (sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &fk, NULL) !=
                                    SQLITE_OK ||
                            sqlite3_step(fk) != SQLITE_DONE)
                                r = cb_error_set(err, CB_ERR_INTERNAL, "it leaves a foreign key dangling");
                        sqlite3_finalize(fk);
                }
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                        r = store_exec(s, pragma, err);
                }
                if (r >= 0)
                        r = store_exec(s, "COMMIT", err);
                if (r < 0) {
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
                        return cb_error_set(err, CB_ERR_INTERNAL, "migration %d failed: %s", v + 1,
                                            err ? err->message : "");
                }
        }
        return store_exec(s, "PRAGMA foreign_keys = ON", err) < 0 ? -EIO : 0;
}

/* CB_STORE_TRACE=FILE (a debugging aid, bench/osb.sh's statement count):
 * every statement SQLite starts, one line each, appended to FILE; a
 * trigger's statements come as their "-- TRIGGER name" line. */
static int trace_stmt(unsigned type, void *userdata, void *p, void *x) {
        const char *sql = x;

        if (type != SQLITE_TRACE_STMT)
                return 0;
        if (!sql || strncmp(sql, "--", 2) != 0)
                sql = sqlite3_sql(p);
        fprintf(userdata, "%s\n", sql ? sql : "?");
        fflush(userdata);
        return 0;
}

static void trace_maybe(sqlite3 *db) {
        const char *path = getenv("CB_STORE_TRACE");
        static FILE *f;

        if (!path || !*path)
                return;
        if (!f)
                f = fopen(path, "ae");
        if (f)
                sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_stmt, f);
}

int store_open_at_version(const char *path, int version, Store **ret, CbError *err) {
        _cleanup_(store_freep) Store *s = NULL;
        int r;

        if (version < 0 || version > store_latest_version())
                return cb_error_set(err, CB_ERR_INVALID,
                                    "schema version %d asked for: this cloudbrokerd knows 0 to %d", version,
                                    store_latest_version());
        s = calloc(1, sizeof(*s));
        if (!s)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        s->serial = next_serial();
        s->path = strdup(path);
        if (!s->path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        r = mkdir_parents(path);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot create the folder of %s: %s", path,
                                    strerror(-r));
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot open database %s: %s", path,
                                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_busy_timeout(s->db, 5000);
        trace_maybe(s->db);

        /* journal_size_limit: a month's close writes its files through the
         * WAL (hundreds of MiB at 10M segments); once checkpointed, the WAL
         * is cut back to STORE_WAL_LIMIT instead of keeping that size on disk.
         * WAL with synchronous=NORMAL, and a durable commit followed by an
         * fdatasync of the WAL (store_sync): what synchronous=FULL does, but
         * a relaxed commit need not switch the pragma there and back, which
         * SQLite parses anew each time (two sqlite3_exec per relaxed commit).
         * temp_store in memory: an order's transaction changes more pages
         * under its savepoints than the 64 KiB a statement journal keeps in
         * memory, and SQLite then spilled it to a new temporary file (open,
         * unlink, writes, close) on every order; nothing in it needs a disk.
         * cache_size: SQLite's default of 2 MiB is smaller than the indexes
         * of a store with tens of thousands of resources, and a reconcile
         * that marks thousands lost (or a big batch) then read the same
         * pages again and again from the OS and spilled dirty ones to the WAL
         * mid-transaction (pread and pwrite were a third of such a pass).
         * Pages are allocated as they are used, up to the limit. */
        /* (clang-format would break the string at the macros.) */
        /* clang-format off */
        static const char pragmas[] =
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -" STRINGIFY(STORE_CACHE_KIB) "; "
                "PRAGMA journal_size_limit = " STRINGIFY(STORE_WAL_LIMIT) ";";
        /* clang-format on */
        r = store_exec(s, pragmas, err);
        if (r < 0)
                return r;
        r = store_migrate(s, version, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int store_open(const char *path, Store **ret, CbError *err) {
        return store_open_at_version(path, store_latest_version(), ret, err);
}

int store_open_reader(Store *s, Store **ret, CbError *err) {
        _cleanup_(store_freep) Store *rd = NULL;

        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        rd->serial = next_serial();
        rd->path = strdup(s->path);
        if (!rd->path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        /* No migrations: the writer's connection did them; read-only, so a
         * bug in a reader can never change the state. */
        if (sqlite3_open_v2(rd->path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot open database %s for reading: %s", rd->path,
                                    rd->db ? sqlite3_errmsg(rd->db) : "out of memory");
        trace_maybe(rd->db);
        sqlite3_busy_timeout(rd->db, 5000);
        *ret = TAKE_PTR(rd);
        return 0;
}

int store_open_writer(Store *s, Store **ret, CbError *err) {
        _cleanup_(store_freep) Store *wr = NULL;
        int r;

        wr = calloc(1, sizeof(*wr));
        if (!wr)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        wr->path = strdup(s->path);
        if (!wr->path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (sqlite3_open_v2(wr->path, &wr->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot open database %s for writing: %s", wr->path,
                                    wr->db ? sqlite3_errmsg(wr->db) : "out of memory");
        trace_maybe(wr->db);
        sqlite3_busy_timeout(wr->db, 5000);
        /* The file is in WAL mode already (the owner's connection set it). */
        r = store_exec(wr,
                       "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                       "PRAGMA journal_size_limit = " STRINGIFY(STORE_WAL_LIMIT) ";",
                       err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(wr);
        return 0;
}

int store_checkpoint(Store *s) {
        return sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK
                       ? 0
                       : -EIO;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_cache; i++)
                sqlite3_finalize(s->cache[i].stmt);
        run_deferred(s, 0, -ECANCELED);
        free(s->deferred);
        memos_clear(s);
        if (s->wal_open)
                close(s->wal_fd);
        if (s->db)
                sqlite3_close(s->db);
        free(s->path);
        free(s);
        return NULL;
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st;

        for (size_t i = 0; i < s->n_cache; i++)
                if (s->cache[i].sql == sql) {
                        sqlite3_reset(s->cache[i].stmt);
                        sqlite3_clear_bindings(s->cache[i].stmt);
                        *ret = s->cache[i].stmt;
                        return 0;
                }
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (s->n_cache < STMT_CACHE_SIZE) {
                s->cache[s->n_cache].sql = sql;
                s->cache[s->n_cache].stmt = st;
                s->n_cache++;
        } else {
                /* Full cache: evict the oldest; callers never hold two at once past a step. */
                sqlite3_finalize(s->cache[0].stmt);
                memmove(&s->cache[0], &s->cache[1], sizeof(s->cache[0]) * (STMT_CACHE_SIZE - 1));
                s->cache[STMT_CACHE_SIZE - 1].sql = sql;
                s->cache[STMT_CACHE_SIZE - 1].stmt = st;
        }
        *ret = st;
        return 0;
}

/*
 * Transactions nest: the outermost store_begin() opens an SQL transaction,
 * inner ones are savepoints, so an inner rollback undoes only its own part.
 * In a batch (store_batch_begin/end) the SQL transaction spans every change
 * made until store_batch_end(), which commits them with one fsync; what must
 * wait for durability (a reply, a provider call) is queued with
 * store_defer() and runs after that commit.
 */

/* The transaction's own statements, prepared once (store_prepare's cache)
 * rather than parsed by sqlite3_exec on every begin and commit: a request
 * runs several. */
static int step_cached(Store *s, const char *sql);

static const char sql_begin[] = "BEGIN IMMEDIATE", sql_commit[] = "COMMIT", sql_rollback[] = "ROLLBACK";

static int tx_exec(Store *s, const char *sql) {
        return step_cached(s, sql) == SQLITE_DONE ? 0 : -EIO;
}

/* Savepoints by level: cb2, cb3, ... (level 1 is the transaction). */
#define SAVEPOINT_CACHED   12
#define SAVEPOINT_TEXTS(l) [l] = { "SAVEPOINT cb" #l, "RELEASE cb" #l, "ROLLBACK TO cb" #l }
static const char *const savepoint_sql[SAVEPOINT_CACHED + 1][3] = {
        SAVEPOINT_TEXTS(2),  SAVEPOINT_TEXTS(3),  SAVEPOINT_TEXTS(4),  SAVEPOINT_TEXTS(5),
        SAVEPOINT_TEXTS(6),  SAVEPOINT_TEXTS(7),  SAVEPOINT_TEXTS(8),  SAVEPOINT_TEXTS(9),
        SAVEPOINT_TEXTS(10), SAVEPOINT_TEXTS(11), SAVEPOINT_TEXTS(12),
};
typedef enum { SP_SAVE, SP_RELEASE, SP_ROLLBACK_TO } SavepointOp;

static int savepoint_exec(Store *s, SavepointOp op, int level) {
        static const char *const fmt[] = { "SAVEPOINT cb%d", "RELEASE cb%d", "ROLLBACK TO cb%d" };
        char sql[64];

        if (level >= 2 && level <= SAVEPOINT_CACHED)
                return tx_exec(s, savepoint_sql[level][op]);
        snprintf(sql, sizeof(sql), fmt[op], level);
        return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Runs (result >= 0) or cancels (result < 0) deferred work of levels >= from. */
static void run_deferred(Store *s, int from, int result) {
        size_t keep = 0, n = s->n_deferred;
        StoreDeferred *run = NULL;
        size_t n_run = 0;

        if (n == 0)
                return;
        run = calloc(n, sizeof(*run));
        for (size_t i = 0; i < n; i++) {
                if (s->deferred[i].level >= from && run)
                        run[n_run++] = s->deferred[i];
                else
                        s->deferred[keep++] = s->deferred[i];
        }
        s->n_deferred = keep;
        /* Callbacks may defer more work or open transactions: run them off the list. */
        for (size_t i = 0; i < n_run; i++)
                run[i].fn(run[i].userdata, result);
        free(run);
}

static void store_relax_tx_end(Store *s) {
        s->relax_tx = false;
}

int store_begin(Store *s) {
        if (s->depth == 0 && !s->batch_open) {
                s->relax_tx = s->relaxed > 0 && !s->batching;
                if (tx_exec(s, sql_begin) < 0) {
                        store_relax_tx_end(s);
                        return -EIO;
                }
                if (s->batching)
                        s->batch_open = true;
                else {
                        s->depth = 1;
                        return 0;
                }
        }
        if (savepoint_exec(s, SP_SAVE, s->depth + 1) < 0)
                return -EIO;
        s->depth++;
        return 0;
}

int store_commit(Store *s) {
        int level = s->depth;

        if (level <= 0)
                return -EINVAL;
        if (level > 1 || s->batch_open) {
                /* A savepoint: its deferred work now belongs to the level below. */
                s->depth--;
                if (savepoint_exec(s, SP_RELEASE, level) < 0)
                        return -EIO;
                for (size_t i = 0; i < s->n_deferred; i++)
                        if (s->deferred[i].level >= level)
                                s->deferred[i].level = level - 1;
                return 0;
        }
        s->depth = 0;
        bool relaxed = s->relax_tx;
        if (tx_exec(s, sql_commit) < 0) {
                s->epoch++;
                tx_exec(s, sql_rollback);
                store_relax_tx_end(s);
                run_deferred(s, 0, -EIO);
                return -EIO;
        }
        store_relax_tx_end(s);
        s->unsynced = true;
        if (!relaxed) {
                /* The commit is on disk before anything learns of it. */
                int r = store_sync(s);
                if (r < 0) {
                        run_deferred(s, 0, r);
                        return r;
                }
        } else {
                /* Work queued with store_defer() (a reply, a signed audit
                 * checkpoint whose anchor is in the journal) was promised a
                 * commit on disk: it gets one before it runs. */
                if (s->n_deferred > 0) {
                        int r = store_sync(s);
                        if (r < 0) {
                                run_deferred(s, 0, r);
                                return r;
                        }
                }
        }
        run_deferred(s, 0, 0);
        return 0;
}

void store_relaxed_begin(Store *s) {
        s->relaxed++;
}

void store_relaxed_end(Store *s) {
        if (s->relaxed > 0)
                s->relaxed--;
}

bool store_unsynced(Store *s) {
        return s && s->unsynced;
}

uint64_t store_sync_count(const Store *s) {
        return s ? s->syncs : 0;
}

uint64_t store_epoch(const Store *s) {
        return s ? s->epoch : 0;
}

int store_sync(Store *s) {
        if (!s || !s->unsynced || s->depth > 0 || s->batch_open)
                return 0;
        /* The WAL's dirty pages belong to its inode: any descriptor of the
         * file flushes what the relaxed commits wrote. The descriptor is
         * kept once the WAL exists (an open and a close less per durable
         * commit): SQLite truncates the WAL but never replaces it while
         * this connection, which holds it open too, lives. */
        if (!s->path) {
                s->unsynced = false; /* in memory: nothing to flush */
                return 0;
        }
        if (!s->wal_open) {
                _cleanup_(freep) char *wal = NULL;
                if (asprintf(&wal, "%s-wal", s->path) < 0)
                        return -ENOMEM;
                int fd = open(wal, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        if (errno != ENOENT)
                                return -errno;
                        s->unsynced = false; /* no WAL: checkpointed and synced */
                        return 0;
                }
                s->wal_fd = fd;
                s->wal_open = true;
        }
        int r = fdatasync(s->wal_fd) < 0 ? -errno : 0;
        if (r == 0) {
                s->unsynced = false;
                s->syncs++;
        }
        return r;
}

void store_rollback(Store *s) {
        int level = s->depth;

        if (level <= 0)
                return;
        s->epoch++;
        s->depth--;
        if (level > 1 || s->batch_open) {
                savepoint_exec(s, SP_ROLLBACK_TO, level);
                savepoint_exec(s, SP_RELEASE, level);
        } else {
                tx_exec(s, sql_rollback);
                store_relax_tx_end(s);
        }
        run_deferred(s, level, -ECANCELED);
}

int store_defer(Store *s, StoreDeferredFn fn, void *userdata) {
        StoreDeferred *v;

        if (s->depth == 0 && !s->batch_open) {
                fn(userdata, 0); /* nothing pending: it is durable already */
                return 0;
        }
        v = realloc(s->deferred, (s->n_deferred + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        s->deferred = v;
        s->deferred[s->n_deferred++] = (StoreDeferred){ .fn = fn, .userdata = userdata, .level = s->depth };
        return 0;
}

/* Every evaluation is one read snapshot: the two statements are kept
 * prepared (sqlite3_exec would parse them on every request). */
static int step_cached(Store *s, const char *sql) {
        sqlite3_stmt *st;
        int rc;

        if (store_prepare(s, sql, &st) < 0)
                return SQLITE_ERROR;
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc;
}

int store_read_begin(Store *s) {
        static const char begin[] = "BEGIN DEFERRED";

        if (s->depth > 0 || s->batch_open || !sqlite3_get_autocommit(s->db))
                return 0;
        return step_cached(s, begin) == SQLITE_DONE ? 1 : 0;
}

static void memos_run(Store *s);

void store_read_end(Store *s, int opened) {
        static const char commit[] = "COMMIT";

        if (opened <= 0)
                return;
        if (!sqlite3_get_autocommit(s->db))
                step_cached(s, commit);
        memos_run(s);
}

/* ---- memos ---- */

static void memos_clear(Store *s) {
        for (size_t i = 0; i < s->n_memos; i++) {
                free(s->memos[i].args);
                free(s->memos[i].texts);
        }
        free(s->memos);
        s->memos = NULL;
        s->n_memos = 0;
}

static int memo_keep(Store *s, const char *sql, const StoreArg *args, const char *what) {
        size_t n = 0, bytes = 0;
        StoreMemo m = { .sql = sql, .what = what }, *v;
        char *p;

        for (; args && args[n].type != STORE_ARG_END; n++)
                if (args[n].text && args[n].type == STORE_ARG_TEXT)
                        bytes += strlen(args[n].text) + 1;
                else if (args[n].text && args[n].type == STORE_ARG_TEXT_LEN && args[n].i >= 0)
                        bytes += (size_t)args[n].i + 1;
        m.args = calloc(n + 1, sizeof(StoreArg));
        m.texts = malloc(bytes ? bytes : 1);
        v = m.args && m.texts ? realloc(s->memos, (s->n_memos + 1) * sizeof(*v)) : NULL;
        if (!v) {
                free(m.args);
                free(m.texts);
                return -ENOMEM;
        }
        s->memos = v;
        p = m.texts;
        for (size_t k = 0; k < n; k++) {
                m.args[k] = args[k];
                if (!args[k].text || (args[k].type != STORE_ARG_TEXT && args[k].type != STORE_ARG_TEXT_LEN))
                        continue;
                size_t len = args[k].type == STORE_ARG_TEXT ? strlen(args[k].text) : (size_t)args[k].i;
                memcpy(p, args[k].text, len);
                p[len] = 0;
                m.args[k].text = p;
                p += len + 1;
        }
        m.args[n] = SA_END;
        s->memos[s->n_memos++] = m;
        return 0;
}

/* One relaxed transaction of its own, outside any batch: a memo is never
 * worth an fdatasync, nor a reason to open a batch's transaction. */
static int memo_commit_relaxed(Store *s, const StoreMemo *m, size_t n) {
        int r = tx_exec(s, sql_begin);

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = store_run(s, m[i].sql, m[i].args, m[i].what, NULL);
        if (r >= 0)
                r = tx_exec(s, sql_commit);
        if (r < 0)
                tx_exec(s, sql_rollback);
        else
                s->unsynced = true;
        return r < 0 ? r : 0;
}

static void memos_run(Store *s) {
        if (s->n_memos == 0 || s->depth > 0 || s->batch_open || !sqlite3_get_autocommit(s->db))
                return;
        (void)memo_commit_relaxed(s, s->memos, s->n_memos);
        memos_clear(s);
}

int store_memo(Store *s, const char *sql, const StoreArg *args, const char *what) {
        /* In a write transaction: it commits (or rolls back) with it. */
        if (s->depth > 0 || s->batch_open) {
                int r = store_run(s, sql, args, what, NULL);
                return r < 0 ? r : 0;
        }
        /* In a read snapshot: a write would make its end a durable commit. */
        if (!sqlite3_get_autocommit(s->db))
                return memo_keep(s, sql, args, what);
        return memo_commit_relaxed(s, &(StoreMemo){ .sql = sql, .what = what, .args = (StoreArg *)args }, 1);
}

bool store_sees_uncommitted(Store *s) {
        return sqlite3_txn_state(s->db, "main") == SQLITE_TXN_WRITE;
}

void store_batch_begin(Store *s) {
        if (s->depth == 0)
                s->batching = true;
}

/* Rounds of deferred work that may write and still share a commit: work
 * that follows a commit (an operation marked running once its record is
 * durable) would otherwise cost one fsync per item. Bounded so that work
 * deferring more work forever cannot keep the batch open. */
#define BATCH_FOLLOW_UP_ROUNDS 4

int store_batch_end(Store *s) {
        int r = 0, first = 0;

        if (!s->batching)
                return 0;
        for (int round = 0; round <= BATCH_FOLLOW_UP_ROUNDS; round++) {
                s->batching = false;
                if (!s->batch_open)
                        break;
                s->batch_open = false;
                /* Levels left open would be a bug in a caller; close them with the batch. */
                s->depth = 0;
                r = 0;
                if (tx_exec(s, sql_commit) < 0) {
                        s->epoch++;
                        tx_exec(s, sql_rollback);
                        r = -EIO;
                } else {
                        s->unsynced = true;
                        r = store_sync(s);
                }
                if (round == 0)
                        first = r;
                /* What the callbacks change joins the next round's commit. */
                s->batching = round < BATCH_FOLLOW_UP_ROUNDS;
                run_deferred(s, 0, r);
        }
        s->batching = false;
        return first;
}

bool store_in_batch(Store *s) {
        return s->batch_open;
}

void store_now(char buf[32]) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- statements with typed binds ---- */

/* A StoreRows is the cached statement itself: nothing to allocate per query. */
static sqlite3_stmt *rows_stmt(StoreRows *rows) {
        return (sqlite3_stmt *)rows;
}

static int bind_args(Store *s, sqlite3_stmt *st, const StoreArg *args, const char *what, CbError *err) {
        int n = sqlite3_bind_parameter_count(st), k = 0, rc = SQLITE_OK;

        for (; args && args[k].type != STORE_ARG_END; k++) {
                if (k >= n)
                        return cb_error_set(err, CB_ERR_INTERNAL, "while %s: %d values for %d parameters",
                                            what, k + 1, n);
                switch (args[k].type) {
                case STORE_ARG_TEXT:
                        rc = args[k].text ? sqlite3_bind_text(st, k + 1, args[k].text, -1, SQLITE_STATIC)
                                          : sqlite3_bind_null(st, k + 1);
                        break;
                case STORE_ARG_INT:
                        rc = sqlite3_bind_int64(st, k + 1, (sqlite3_int64)args[k].i);
                        break;
                case STORE_ARG_TEXT_LEN:
                        if (args[k].i < 0 || args[k].i > INT_MAX)
                                return cb_error_set(err, CB_ERR_INTERNAL,
                                                    "while %s: value %d is %lld bytes long", what, k + 1,
                                                    (long long)args[k].i);
                        rc = args[k].text ? sqlite3_bind_text(st, k + 1, args[k].text, (int)args[k].i,
                                                              SQLITE_STATIC)
                                          : sqlite3_bind_null(st, k + 1);
                        break;
                case STORE_ARG_BLOB:
                        if (args[k].i < 0 || args[k].i > INT_MAX)
                                return cb_error_set(err, CB_ERR_INTERNAL,
                                                    "while %s: value %d is %lld bytes long", what, k + 1,
                                                    (long long)args[k].i);
                        rc = args[k].text ? sqlite3_bind_blob(st, k + 1, args[k].text, (int)args[k].i,
                                                              SQLITE_STATIC)
                                          : sqlite3_bind_null(st, k + 1);
                        break;
                default:
                        rc = sqlite3_bind_null(st, k + 1);
                        break;
                }
                if (rc != SQLITE_OK)
                        return store_error(s, err, what);
        }
        /* A value left out is a bug in the caller, never a silent NULL. */
        if (k != n)
                return cb_error_set(err, CB_ERR_INTERNAL, "while %s: %d values for %d parameters", what, k,
                                    n);
        return 0;
}

int store_run(Store *s, const char *sql, const StoreArg *args, const char *what, CbError *err) {
        sqlite3_stmt *st;
        int r, rc;

        if (store_prepare(s, sql, &st) < 0)
                return store_error(s, err, what);
        r = bind_args(s, st, args, what, err);
        if (r < 0) {
                sqlite3_reset(st);
                return r;
        }
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
                int changes = sqlite3_changes(s->db);
                /* A write outside any transaction committed on its own, and
                 * only store_sync() puts it on disk (synchronous=NORMAL). */
                if (!sqlite3_stmt_readonly(st) && sqlite3_get_autocommit(s->db)) {
                        s->unsynced = true;
                        r = store_sync(s);
                        if (r < 0)
                                return cb_error_set(err, CB_ERR_INTERNAL,
                                                    "while %s: cannot flush the journal: %s", what,
                                                    strerror(-r));
                }
                return changes;
        }
        if ((sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE ||
             sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)) {
                store_error(s, err, what);
                return -EEXIST;
        }
        return store_error(s, err, what);
}

int store_query(Store *s, const char *sql, const StoreArg *args, StoreRows **ret, const char *what,
                CbError *err) {
        sqlite3_stmt *st;
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return store_error(s, err, what);
        r = bind_args(s, st, args, what, err);
        if (r < 0) {
                sqlite3_reset(st);
                return r;
        }
        *ret = (StoreRows *)st;
        return 0;
}

int store_rows_next(StoreRows *rows, CbError *err) {
        sqlite3_stmt *st = rows_stmt(rows);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return cb_error_set(err, CB_ERR_INTERNAL, "database error while reading: %s",
                            sqlite3_errmsg(sqlite3_db_handle(st)));
}

const char *store_rows_text(StoreRows *rows, int i) {
        return (const char *)sqlite3_column_text(rows_stmt(rows), i);
}

size_t store_rows_len(StoreRows *rows, int i) {
        return (size_t)sqlite3_column_bytes(rows_stmt(rows), i);
}

const void *store_rows_blob(StoreRows *rows, int i) {
        return sqlite3_column_blob(rows_stmt(rows), i);
}

char *store_rows_dup(StoreRows *rows, int i) {
        const char *t = store_rows_text(rows, i);
        return t ? strdup(t) : NULL;
}

int64_t store_rows_int(StoreRows *rows, int i) {
        return (int64_t)sqlite3_column_int64(rows_stmt(rows), i);
}

bool store_rows_is_null(StoreRows *rows, int i) {
        return sqlite3_column_type(rows_stmt(rows), i) == SQLITE_NULL;
}

int store_rows_texts(StoreRows *rows, const StoreText *cols, size_t n, char **ret_mem) {
        sqlite3_stmt *st = rows_stmt(rows);
        size_t total = 1, at = 0;
        char *mem;

        /* Lengths first: sqlite3_column_bytes() after sqlite3_column_text()
         * is the documented order that leaves the text pointer valid. Up to
         * 32 columns in one pass, each asked once. */
        if (n <= 32) {
                const char *t[32];
                size_t len[32];
                for (size_t k = 0; k < n; k++) {
                        t[k] = (const char *)sqlite3_column_text(st, cols[k].column);
                        len[k] = t[k] ? (size_t)sqlite3_column_bytes(st, cols[k].column) : 0;
                        if (t[k])
                                total += len[k] + 1;
                }
                mem = malloc(total);
                if (!mem)
                        return -ENOMEM;
                for (size_t k = 0; k < n; k++) {
                        if (!t[k]) {
                                *cols[k].dst = NULL;
                                continue;
                        }
                        memcpy(mem + at, t[k], len[k]);
                        mem[at + len[k]] = 0;
                        *cols[k].dst = mem + at;
                        at += len[k] + 1;
                }
                *ret_mem = mem;
                return 0;
        }
        for (size_t k = 0; k < n; k++)
                if (sqlite3_column_text(st, cols[k].column))
                        total += (size_t)sqlite3_column_bytes(st, cols[k].column) + 1;
        mem = malloc(total);
        if (!mem)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                const char *t = (const char *)sqlite3_column_text(st, cols[k].column);
                size_t len;
                if (!t) {
                        *cols[k].dst = NULL;
                        continue;
                }
                len = (size_t)sqlite3_column_bytes(st, cols[k].column);
                memcpy(mem + at, t, len);
                mem[at + len] = 0;
                *cols[k].dst = mem + at;
                at += len + 1;
        }
        *ret_mem = mem;
        return 0;
}

void store_rows_done(StoreRows *rows) {
        if (rows)
                sqlite3_reset(rows_stmt(rows));
}

int store_query_int(Store *s, const char *sql, const StoreArg *args, int64_t *ret, const char *what,
                    CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r = store_query(s, sql, args, &rows, what, err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, err);
        if (r < 0)
                return r;
        *ret = r ? store_rows_int(rows, 0) : 0;
        return 0;
}
