//! The shape of the language: which blocks exist where, their labels and attributes.
//! Loading checks every block and attribute against this table (unknown names get a
//! "did you mean"), and a test keeps `docs/language.md` covering every entry.

/// One attribute of a block.
#[derive(Debug)]
pub struct AttrSchema {
    pub name: &'static str,
    /// The type as documented (`string`, `list(string)`, `reference to server`...).
    pub ty: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// One block type, addressed by its path (`compose.service.healthcheck`).
#[derive(Debug)]
pub struct BlockSchema {
    pub path: &'static str,
    pub labels: &'static [&'static str],
    pub doc: &'static str,
    pub attrs: &'static [AttrSchema],
    /// Any attribute or nested block is accepted (collector component bodies, `locals`).
    pub free_form: bool,
}

impl BlockSchema {
    pub fn name(&self) -> &'static str {
        self.path.rsplit('.').next().unwrap_or(self.path)
    }

    pub fn attr(&self, name: &str) -> Option<&'static AttrSchema> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Blocks allowed directly inside this one.
    pub fn children(&self) -> impl Iterator<Item = &'static BlockSchema> + '_ {
        BLOCKS.iter().filter(move |b| {
            b.path
                .strip_prefix(self.path)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|r| !r.contains('.'))
        })
    }

    pub fn child(&self, name: &str) -> Option<&'static BlockSchema> {
        self.children().find(|b| b.name() == name)
    }
}

/// Top-level blocks.
pub fn top_level() -> impl Iterator<Item = &'static BlockSchema> {
    BLOCKS.iter().filter(|b| !b.path.contains('.'))
}

pub fn top(name: &str) -> Option<&'static BlockSchema> {
    top_level().find(|b| b.path == name)
}

const fn a(name: &'static str, ty: &'static str, required: bool, doc: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        ty,
        required,
        doc,
    }
}

const fn block(
    path: &'static str,
    labels: &'static [&'static str],
    doc: &'static str,
    attrs: &'static [AttrSchema],
) -> BlockSchema {
    BlockSchema {
        path,
        labels,
        doc,
        attrs,
        free_form: false,
    }
}

const fn free(
    path: &'static str,
    labels: &'static [&'static str],
    doc: &'static str,
) -> BlockSchema {
    BlockSchema {
        path,
        labels,
        doc,
        attrs: &[],
        free_form: true,
    }
}

/// How sovstack reaches a machine: the same for servers it creates and hosts it configures.
const SSH_ATTRS: &[AttrSchema] = &[
    a("user", "string", false, "Login user. Default: root."),
    a("port", "number", false, "SSH port. Default: 22."),
    a(
        "private_key_file",
        "string",
        false,
        "Operator's private key. Default: the ssh-agent.",
    ),
];

const BOOTSTRAP_ATTRS: &[AttrSchema] = &[
    a(
        "docker_version",
        "string",
        false,
        "Docker Engine version the bootstrap installs, e.g. `29.7.2`. Default: sovstack's pin.",
    ),
    a(
        "docker_minimum",
        "string",
        false,
        "The oldest Docker Engine accepted as already installed. Default: the first release without known container escapes. Lower it only for a distribution's engine that carries the fixes as backports (validate warns).",
    ),
    a(
        "nvidia_container_toolkit_version",
        "string",
        false,
        "NVIDIA Container Toolkit version installed where a service wants GPUs, e.g. `1.20.1`. Default: sovstack's pin.",
    ),
];

/// How a container's output is kept: the same for a project's default and one service.
const LOGGING_ATTRS: &[AttrSchema] = &[
    a(
        "driver",
        "string",
        false,
        "Log driver, e.g. `json-file` or `local`. Default: the daemon's (json-file, unbounded).",
    ),
    a(
        "options",
        "map(string)",
        false,
        "Driver options, e.g. `{ max-size = \"50m\", max-file = \"3\" }`.",
    ),
];

pub static BLOCKS: &[BlockSchema] = &[
    block(
        "stack",
        &["name"],
        "The stack: its name labels every cloud resource it creates.",
        &[],
    ),
    block(
        "stack.policy",
        &[],
        "Rules the stack must obey; checked by validate and again against what the API reports.",
        &[
            a(
                "allowed_locations",
                "list(string)",
                false,
                "Hetzner locations servers, volumes and hosts may be in. Default: fsn1, nbg1, hel1.",
            ),
            a(
                "require_pinned_images",
                "bool",
                false,
                "Refuse `:latest` and untagged images. Default: true.",
            ),
            a(
                "require_firewall",
                "bool",
                false,
                "Every port published on a Cloud server must be covered by a firewall rule. Default: true.",
            ),
        ],
    ),
    block(
        "stack.backend",
        &["type"],
        "Where the state lives: `backend \"pg\"` keeps it in PostgreSQL. Literal strings only.",
        &[
            a(
                "conn_str",
                "string",
                false,
                "libpq connection string or postgres:// URL. Default: the PG_CONN_STR environment variable.",
            ),
            a(
                "schema_name",
                "string",
                false,
                "Schema of the state tables. Default: PG_SCHEMA_NAME, else `sovstack`.",
            ),
            a(
                "sslmode",
                "string",
                false,
                "disable, prefer, require or verify-full. Default: the connection string's, else prefer.",
            ),
            a(
                "sslrootcert",
                "string",
                false,
                "PEM file of the CA that signed the server's certificate (verify-full), relative to the stack file.",
            ),
        ],
    ),
    block(
        "variable",
        &["name"],
        "An input. Values come from `default`, variable files (`sovstack.vars.hcl`, `*.auto.vars.hcl`, `--var-file`), the environment (`SOVSTACK_VAR_<name>`) or `--var name=value`, each overriding the one before.",
        &[
            a(
                "type",
                "type",
                false,
                "string, number, bool, list(string), list(number), map(string) or any. Default: string.",
            ),
            a("default", "value", false, "The value when none is given."),
            a("description", "string", false, "What the variable is for."),
            a(
                "sensitive",
                "bool",
                false,
                "A secret: never printed, never stored in state (only a keyed hash).",
            ),
        ],
    ),
    block(
        "variable.validation",
        &[],
        "A condition the value must meet.",
        &[
            a(
                "condition",
                "bool expression",
                true,
                "Evaluated with the variable's value.",
            ),
            a(
                "error_message",
                "string",
                true,
                "Shown when the condition is false.",
            ),
        ],
    ),
    free(
        "locals",
        &[],
        "Named expressions, referenced as `local.<name>`.",
    ),
    block(
        "data",
        &["kind", "name"],
        "An existing cloud resource sovstack does not manage (`ssh_key` or `firewall`), found by name or labels and referenced as `data.<kind>.<name>`.",
        &[
            a(
                "name",
                "string",
                false,
                "Its name in Hetzner Cloud. Give `name` or `labels`.",
            ),
            a(
                "labels",
                "map(string)",
                false,
                "A label selector: every label must match, and exactly one resource may.",
            ),
        ],
    ),
    block(
        "moved",
        &[],
        "A block was renamed: its resources keep their identity (state and labels follow; nothing is re-created).",
        &[
            a(
                "from",
                "address",
                true,
                "The old address, e.g. `server.db` (not quoted).",
            ),
            a(
                "to",
                "address",
                true,
                "The new address, e.g. `server.database`; a block of the same kind.",
            ),
        ],
    ),
    block(
        "import",
        &[],
        "An existing cloud resource brought under management: read by id, labelled as this stack's on apply.",
        &[
            a(
                "to",
                "address",
                true,
                "The block it becomes, e.g. `firewall.edge` (not quoted).",
            ),
            a(
                "id",
                "string",
                true,
                "The Hetzner Cloud id of the resource.",
            ),
        ],
    ),
    block(
        "output",
        &["name"],
        "A value shown after apply and by `sovstack output`.",
        &[
            a("value", "value", true, "The value."),
            a(
                "sensitive",
                "bool",
                false,
                "Required when the value depends on a sensitive variable.",
            ),
            a("description", "string", false, "What the output is."),
        ],
    ),
    block(
        "ssh_key",
        &["name"],
        "A Hetzner Cloud SSH key, installed for root on servers that list it.",
        &[
            a(
                "public_key",
                "string",
                true,
                "The OpenSSH public key, e.g. `file(\"keys/admin.pub\")`.",
            ),
            a("labels", "map(string)", false, "Extra labels."),
        ],
    ),
    block(
        "server",
        &["name"],
        "A Hetzner Cloud server that sovstack creates.",
        &[
            a(
                "server_type",
                "string",
                true,
                "Server type, e.g. `cx22`, `ccx33`. Changes in place (power off, change type).",
            ),
            a(
                "location",
                "string",
                true,
                "Location, e.g. `fsn1`. Must be in `policy.allowed_locations`. Forces replacement.",
            ),
            a(
                "image",
                "string",
                true,
                "OS image by name, e.g. `ubuntu-24.04`, or by ID (snapshots and backups have only an ID). Forces replacement.",
            ),
            a(
                "ssh_keys",
                "list(reference to ssh_key)",
                false,
                "Keys installed for root, e.g. `[ssh_key.admin]`. Forces replacement.",
            ),
            a(
                "labels",
                "map(string)",
                false,
                "Extra labels (sovstack adds its own).",
            ),
            a(
                "user_data_runcmd",
                "list(string)",
                false,
                "Extra commands cloud-init runs once at first boot.",
            ),
        ],
    ),
    block(
        "server.ssh",
        &[],
        "How sovstack connects to the server. Host keys of servers sovstack creates are generated by sovstack and pinned.",
        SSH_ATTRS,
    ),
    block(
        "server.bootstrap",
        &[],
        "Versions the node bootstrap installs on the server; checked against known container-escape CVEs.",
        BOOTSTRAP_ATTRS,
    ),
    block(
        "host",
        &["name"],
        "An existing machine (e.g. a dedicated GEX GPU server) that sovstack configures but does not create.",
        &[
            a("address", "string", true, "IP address or DNS name."),
            a(
                "host_key",
                "string",
                false,
                "Pinned host key fingerprint `SHA256:...`. Without it, `apply --trust-new-host-keys` learns and pins it once.",
            ),
            a(
                "location",
                "string",
                false,
                "Hetzner location of the machine, checked against the policy.",
            ),
            a(
                "gpus",
                "number",
                false,
                "Number of GPUs on the machine. Default: 0.",
            ),
        ],
    ),
    block(
        "host.ssh",
        &[],
        "How sovstack connects to the host.",
        SSH_ATTRS,
    ),
    block(
        "host.bootstrap",
        &[],
        "Versions the node bootstrap installs on the host; checked against known container-escape CVEs.",
        BOOTSTRAP_ATTRS,
    ),
    block(
        "firewall",
        &["name"],
        "A Hetzner Cloud firewall. Rules change in place.",
        &[
            a(
                "apply_to",
                "list(reference to server)",
                false,
                "Servers the firewall protects, e.g. `[server.gpu]`.",
            ),
            a("labels", "map(string)", false, "Extra labels."),
        ],
    ),
    block(
        "firewall.rule",
        &[],
        "One firewall rule. Traffic not matched by an `in` rule is dropped.",
        &[
            a("direction", "string", false, "`in` or `out`. Default: in."),
            a(
                "protocol",
                "string",
                false,
                "`tcp`, `udp`, `icmp`, `esp` or `gre`. Default: tcp.",
            ),
            a(
                "port",
                "string",
                false,
                "A port or range, `22` or `8000-8100` (tcp/udp only).",
            ),
            a(
                "source_ips",
                "list(string)",
                false,
                "CIDRs allowed in (direction in).",
            ),
            a(
                "destination_ips",
                "list(string)",
                false,
                "CIDRs allowed out (direction out).",
            ),
            a("description", "string", false, "Why the rule exists."),
            a(
                "public",
                "bool",
                false,
                "Explicit consent to open the rule to 0.0.0.0/0 or ::/0.",
            ),
        ],
    ),
    block(
        "volume",
        &["name"],
        "A Hetzner Cloud volume.",
        &[
            a(
                "size",
                "number",
                true,
                "Size in GB (10 or more). Grows in place; never shrinks.",
            ),
            a(
                "location",
                "string",
                false,
                "Location; defaults to the server's.",
            ),
            a(
                "server",
                "reference to server",
                false,
                "Server to attach to, e.g. `server.gpu`.",
            ),
            a("format", "string", false, "`ext4` or `xfs`."),
            a(
                "automount",
                "bool",
                false,
                "Hetzner's own mount under /mnt/HC_Volume_<id>. Default: true when attached and no `mount_path`.",
            ),
            a(
                "mount_path",
                "string",
                false,
                "Where sovstack mounts the volume on its server, by device, with an fstab entry (`nofail`), e.g. `/mnt/clickhouse`.",
            ),
            a("labels", "map(string)", false, "Extra labels."),
        ],
    ),
    block(
        "collector",
        &["name"],
        "An OpenTelemetry Collector configuration, rendered to its config.yaml and checked against the collector version it targets.",
        &[a(
            "version",
            "string",
            true,
            "Collector (contrib) version the config targets, e.g. `0.159.0`.",
        )],
    ),
    free(
        "collector.receiver",
        &["id"],
        "A receiver, `type[/name]`; its body is the component's configuration.",
    ),
    free(
        "collector.processor",
        &["id"],
        "A processor, `type[/name]`.",
    ),
    free("collector.exporter", &["id"], "An exporter, `type[/name]`."),
    free(
        "collector.extension",
        &["id"],
        "An extension, `type[/name]`; every extension is enabled in `service.extensions`.",
    ),
    free(
        "collector.connector",
        &["id"],
        "A connector, `type[/name]`.",
    ),
    block(
        "collector.pipeline",
        &["id"],
        "A pipeline, `traces`, `metrics` or `logs`, optionally `/name`.",
        &[
            a("receivers", "list(string)", true, "Receiver ids."),
            a(
                "processors",
                "list(string)",
                false,
                "Processor ids, in order.",
            ),
            a("exporters", "list(string)", true, "Exporter ids."),
        ],
    ),
    free(
        "collector.telemetry",
        &[],
        "The collector's own telemetry (`service.telemetry`).",
    ),
    block(
        "compose",
        &["name"],
        "A Docker Compose project on a server or host.",
        &[
            a(
                "on",
                "reference to server or host",
                true,
                "Where the project runs, e.g. `server.gpu`.",
            ),
            a(
                "project",
                "string",
                false,
                "Compose project name. Default: the block name.",
            ),
            a(
                "directory",
                "string",
                false,
                "Project directory on the node. Default: /opt/sovstack/<project>.",
            ),
            a(
                "volumes",
                "list(string)",
                false,
                "Named volumes of the project.",
            ),
            a(
                "destroy_volumes",
                "bool",
                false,
                "Remove named volumes on destroy. Default: false.",
            ),
            a(
                "wait_timeout",
                "number",
                false,
                "Seconds `compose up --wait` waits for every service to be running and healthy; past it the apply fails naming the services. Default: 1200.",
            ),
        ],
    ),
    block(
        "compose.logging",
        &[],
        "How Docker keeps the output of every service that has no `logging` of its own.",
        LOGGING_ATTRS,
    ),
    block(
        "compose.service",
        &["name"],
        "A service of the project.",
        &[
            a(
                "image",
                "string",
                true,
                "Image with a pinned tag or digest.",
            ),
            a(
                "command",
                "list(string)",
                false,
                "Arguments after the image's entrypoint.",
            ),
            a(
                "entrypoint",
                "list(string)",
                false,
                "Overrides the image's entrypoint.",
            ),
            a(
                "environment",
                "map(string)",
                false,
                "Plain environment; may not contain sensitive values.",
            ),
            a(
                "secret_environment",
                "map(string)",
                false,
                "Environment from sensitive variables, delivered in the service's env file (mode 0600).",
            ),
            a(
                "ports",
                "list(string)",
                false,
                "Published ports, compose short syntax, e.g. `127.0.0.1:8000:8000`.",
            ),
            a(
                "volumes",
                "list(string)",
                false,
                "Mounts, compose short syntax: `volume:/path` or `./dir:/path`.",
            ),
            a(
                "gpus",
                "string or number",
                false,
                "`all` or a count: reserves NVIDIA GPUs.",
            ),
            a(
                "runtime",
                "string",
                false,
                "Container runtime (avoid `nvidia`: use `gpus`).",
            ),
            a("ipc", "string", false, "IPC mode, e.g. `host`."),
            a("shm_size", "string", false, "Size of /dev/shm, e.g. `8gb`."),
            a(
                "user",
                "string",
                false,
                "User the container runs as, e.g. `10001:10001`.",
            ),
            a(
                "restart",
                "string",
                false,
                "Restart policy. Default: unless-stopped.",
            ),
            a(
                "depends_on",
                "list(string) or map(string)",
                false,
                "Services started first; a map gives conditions (`service_healthy`...).",
            ),
            a("labels", "map(string)", false, "Container labels."),
            a(
                "ulimits",
                "map(number or object)",
                false,
                "Resource limits, e.g. `{ nofile = { soft = 262144, hard = 262144 }, nproc = 65535 }`.",
            ),
            a(
                "mem_limit",
                "string",
                false,
                "Memory the container may use, e.g. `1g` (what `memory_limiter` percentages refer to).",
            ),
        ],
    ),
    block(
        "compose.service.logging",
        &[],
        "How Docker keeps the service's output; overrides the project's `logging`.",
        LOGGING_ATTRS,
    ),
    block(
        "compose.service.healthcheck",
        &[],
        "How Docker decides the service is healthy.",
        &[
            a(
                "test",
                "list(string)",
                true,
                "Command, e.g. `[\"CMD\", \"curl\", \"-fsS\", \"http://127.0.0.1:8000/health\"]`.",
            ),
            a(
                "interval",
                "string",
                false,
                "Time between checks, e.g. `30s`.",
            ),
            a("timeout", "string", false, "Time a check may take."),
            a("retries", "number", false, "Failures before unhealthy."),
            a(
                "start_period",
                "string",
                false,
                "Grace period at start (model downloads take minutes).",
            ),
        ],
    ),
    block(
        "compose.service.file",
        &["container_path"],
        "A file rendered on the node and mounted read-only at the label's path in the container.",
        &[
            a("content", "string", false, "Literal content."),
            a(
                "collector",
                "reference to collector",
                false,
                "Mount the rendered config of a collector block, e.g. `collector.sidecar`.",
            ),
        ],
    ),
    block(
        "check",
        &["name"],
        "A check run after apply; a failing check fails the apply.",
        &[
            a(
                "compose",
                "reference to compose",
                true,
                "The project the check belongs to; it runs on that project's node.",
            ),
            a(
                "within",
                "string",
                false,
                "How long the check may take to pass. Default: 10m.",
            ),
        ],
    ),
    block(
        "check.http",
        &[],
        "GET a URL from the node itself (so no port needs opening).",
        &[
            a("url", "string", true, "URL, usually on 127.0.0.1."),
            a("status", "number", false, "Expected status. Default: 200."),
        ],
    ),
    block(
        "check.trace_roundtrip",
        &[],
        "Send one chat completion with a fresh W3C traceparent; its trace id must reach the audit file.",
        &[
            a("url", "string", true, "Chat completions URL on the node."),
            a("model", "string", true, "Served model name."),
            a(
                "audit_file",
                "string",
                true,
                "Audit file, relative to the project directory.",
            ),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nested_block_has_a_parent() {
        for b in BLOCKS {
            if let Some((parent, _)) = b.path.rsplit_once('.') {
                assert!(
                    BLOCKS.iter().any(|p| p.path == parent),
                    "{} has no parent",
                    b.path
                );
            }
        }
    }

    #[test]
    fn children_are_found() {
        let service = BLOCKS.iter().find(|b| b.path == "compose.service").unwrap();
        let names: Vec<_> = service.children().map(|b| b.name()).collect();
        assert_eq!(names, vec!["logging", "healthcheck", "file"]);
    }
}
