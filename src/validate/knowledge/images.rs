//! Container image references: parsing, pinning, and the image families of this stack with the versions the
//! references name, so a rule can say "this is vLLM v0.33.0" or "this is collector v0.159.0".
//!
//! Reference grammar: Docker's distribution reference (`[registry[:port]/]path[:tag][@algo:hex]`); a first path
//! component is a registry when it contains `.` or `:` or is `localhost`. Versions: `shared/reference/stack-content.md`
//! §0, §2, §5 (items 5, 18, 33).

use super::Version;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `ghcr.io`, `localhost:5000`, `docker.io`; `None` when not written (Docker Hub).
    pub registry: Option<String>,
    /// As written (`vllm/vllm-openai`, `library/postgres`, `postgres`).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("empty image reference")]
    Empty,
    #[error("image reference `{0}` has an empty name component")]
    EmptyComponent(String),
    #[error(
        "image reference `{0}` has an invalid character in its repository (lower-case letters, digits, `._-/` only)"
    )]
    InvalidRepository(String),
    #[error(
        "image reference `{0}` has an invalid tag (up to 128 of `A-Za-z0-9_.-`, not starting with `.` or `-`)"
    )]
    InvalidTag(String),
    #[error("image reference `{0}` has an invalid digest (expected sha256:<64 hex digits>)")]
    InvalidDigest(String),
}

const DOCKER_HUB_NAMES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

impl ImageRef {
    pub fn parse(text: &str) -> Result<Self, ImageRefError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => {
                if !is_valid_digest(d) {
                    return Err(ImageRefError::InvalidDigest(text.to_owned()));
                }
                (n, Some(d.to_ascii_lowercase()))
            }
            None => (text, None),
        };
        // The tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let split = last_slash + i;
                (&name_tag[..split], Some(&name_tag[split + 1..]))
            }
            None => (name_tag, None),
        };
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(ImageRefError::InvalidTag(text.to_owned()));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (Some(first), rest)
            }
            _ => (None, name),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(ImageRefError::EmptyComponent(text.to_owned()));
        }
        if !repository.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
        }) {
            return Err(ImageRefError::InvalidRepository(text.to_owned()));
        }
        Ok(Self {
            registry: registry.map(str::to_owned),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Whether the image comes from Docker Hub (registry omitted or one of Hub's names).
    pub fn is_docker_hub(&self) -> bool {
        self.registry
            .as_deref()
            .is_none_or(|r| DOCKER_HUB_NAMES.contains(&r))
    }

    /// The repository as Docker Hub users write it: `library/postgres` -> `postgres`. Other registries unchanged.
    pub fn short_repository(&self) -> &str {
        if self.is_docker_hub() {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
        } else {
            &self.repository
        }
    }

    /// The release version in the tag (`v0.33.0`, `0.159.0`, `25.5.6`), if it is one.
    pub fn tag_version(&self) -> Option<Version> {
        self.tag.as_deref().and_then(Version::parse)
    }

    pub fn pinning(&self) -> Pinning {
        if self.digest.is_some() {
            Pinning::Digest
        } else {
            match self.tag.as_deref() {
                None => Pinning::Untagged,
                Some("latest") => Pinning::Latest,
                Some(_) => Pinning::Pinned,
            }
        }
    }

    pub fn family(&self) -> Option<ImageFamily> {
        ImageFamily::of(self)
    }
}

fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((algo, hex)) if algo.eq_ignore_ascii_case("sha256") => {
            hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        _ => false,
    }
}

/// How firmly an image reference names one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// `@sha256:...`: immutable.
    Digest,
    /// A specific tag (`v0.33.0`); tags can be moved, but releases are not in practice.
    Pinned,
    /// `:latest`: changes under you (stack-content.md §5 items 5, 33).
    Latest,
    /// No tag and no digest: Docker pulls `latest`.
    Untagged,
}

/// Parse and classify in one step.
pub fn is_pinned(image: &str) -> Result<Pinning, ImageRefError> {
    ImageRef::parse(image).map(|r| r.pinning())
}

/// The images this stack knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFamily {
    Vllm,
    CollectorContrib,
    CollectorCore,
    Signoz,
    SignozOtelCollector,
    ClickhouseServer,
    ClickhouseKeeper,
    Zookeeper,
    Tempo,
    Postgres,
}

/// (Docker Hub repository, family).
const FAMILIES: &[(&str, ImageFamily)] = &[
    ("vllm/vllm-openai", ImageFamily::Vllm),
    (
        "otel/opentelemetry-collector-contrib",
        ImageFamily::CollectorContrib,
    ),
    ("otel/opentelemetry-collector", ImageFamily::CollectorCore),
    ("signoz/signoz", ImageFamily::Signoz),
    (
        "signoz/signoz-otel-collector",
        ImageFamily::SignozOtelCollector,
    ),
    (
        "clickhouse/clickhouse-server",
        ImageFamily::ClickhouseServer,
    ),
    (
        "clickhouse/clickhouse-keeper",
        ImageFamily::ClickhouseKeeper,
    ),
    ("signoz/zookeeper", ImageFamily::Zookeeper),
    ("bitnami/zookeeper", ImageFamily::Zookeeper),
    ("grafana/tempo", ImageFamily::Tempo),
    ("postgres", ImageFamily::Postgres),
];

/// A version of an image family that the references name, with where it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownTag {
    pub family: ImageFamily,
    pub repository: &'static str,
    pub tag: &'static str,
    /// The one to suggest when pinning.
    pub recommended: bool,
    pub source: &'static str,
}

const fn kt(
    family: ImageFamily,
    repository: &'static str,
    tag: &'static str,
    recommended: bool,
    source: &'static str,
) -> KnownTag {
    KnownTag {
        family,
        repository,
        tag,
        recommended,
        source,
    }
}

/// Source: stack-content.md (sections cited per entry).
pub const KNOWN_TAGS: &[KnownTag] = &[
    kt(
        ImageFamily::Vllm,
        "vllm/vllm-openai",
        "v0.33.0",
        true,
        "§0, §6: newest vLLM release (PyPI)",
    ),
    kt(
        ImageFamily::CollectorContrib,
        "otel/opentelemetry-collector-contrib",
        "0.159.0",
        true,
        "§0: newest collector release v0.159.0 (2026-08-18)",
    ),
    kt(
        ImageFamily::CollectorContrib,
        "otel/opentelemetry-collector-contrib",
        "0.102.0",
        false,
        "§0, §5 item 18: the tutorial's pin (May 2024), 57 releases old",
    ),
    kt(
        ImageFamily::Signoz,
        "signoz/signoz",
        "v0.138.0",
        true,
        "§0, §5 item 33: SigNoz HEAD 9997c3da",
    ),
    kt(
        ImageFamily::Signoz,
        "signoz/signoz",
        "v0.129.0",
        false,
        "§2.3: last legacy compose release",
    ),
    kt(
        ImageFamily::SignozOtelCollector,
        "signoz/signoz-otel-collector",
        "v0.144.6",
        true,
        "§0, §5 item 33: pinned by SigNoz v0.138.0 go.mod:12",
    ),
    kt(
        ImageFamily::SignozOtelCollector,
        "signoz/signoz-otel-collector",
        "v0.144.5",
        false,
        "§2.3: legacy compose default OTELCOL_TAG",
    ),
    kt(
        ImageFamily::ClickhouseServer,
        "clickhouse/clickhouse-server",
        "25.5.6",
        true,
        "§2.2, §2.3: Foundry and legacy compose",
    ),
    kt(
        ImageFamily::ClickhouseKeeper,
        "clickhouse/clickhouse-keeper",
        "25.5.6",
        true,
        "§2.2: Foundry compose",
    ),
    kt(
        ImageFamily::Zookeeper,
        "signoz/zookeeper",
        "3.7.1",
        true,
        "§2.3: legacy compose zookeeper-1",
    ),
    kt(
        ImageFamily::Postgres,
        "postgres",
        "16",
        true,
        "§2.2: Foundry metastore docker.io/postgres:16",
    ),
];

impl ImageFamily {
    pub fn of(image: &ImageRef) -> Option<Self> {
        if !image.is_docker_hub() {
            return None;
        }
        let repo = image.short_repository();
        FAMILIES.iter().find(|(r, _)| *r == repo).map(|(_, f)| *f)
    }

    /// Docker Hub repositories of this family.
    pub fn repositories(self) -> impl Iterator<Item = &'static str> {
        FAMILIES
            .iter()
            .filter(move |(_, f)| *f == self)
            .map(|(r, _)| *r)
    }

    /// The tag to suggest when pinning, if the references name one.
    pub fn recommended_tag(self) -> Option<&'static KnownTag> {
        KNOWN_TAGS
            .iter()
            .find(|t| t.family == self && t.recommended)
    }

    pub fn known_tags(self) -> impl Iterator<Item = &'static KnownTag> {
        KNOWN_TAGS.iter().filter(move |t| t.family == self)
    }
}

/// The vLLM release of a `vllm/vllm-openai` image, from its tag (`v0.33.0`). `None` for other images and for
/// `latest`/untagged/digest-only references.
pub fn vllm_version(image: &ImageRef) -> Option<Version> {
    (image.family() == Some(ImageFamily::Vllm))
        .then(|| image.tag_version())
        .flatten()
}

/// The collector release of an `otel/opentelemetry-collector[-contrib]` image (`0.159.0` or `v0.159.0`).
/// The SigNoz collector is a fork with its own numbering and is deliberately not mapped.
pub fn collector_version(image: &ImageRef) -> Option<Version> {
    matches!(
        image.family(),
        Some(ImageFamily::CollectorContrib | ImageFamily::CollectorCore)
    )
    .then(|| image.tag_version())
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).expect(s)
    }

    #[test]
    fn parses_registry_repo_tag_digest() {
        let r = parse(&format!("ghcr.io/org/app:1.2@{D}"));
        assert_eq!(r.registry.as_deref(), Some("ghcr.io"));
        assert_eq!(r.repository, "org/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_deref(), Some(D));

        let r = parse("localhost:5000/app");
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository, "app");
        assert_eq!(r.tag, None);

        let r = parse("registry.example:5000/team/app:v2");
        assert_eq!(r.registry.as_deref(), Some("registry.example:5000"));
        assert_eq!(r.tag.as_deref(), Some("v2"));

        let r = parse("vllm/vllm-openai:v0.33.0");
        assert_eq!(
            (r.registry.as_deref(), r.repository.as_str()),
            (None, "vllm/vllm-openai")
        );
        assert_eq!(r.tag_version(), Some(Version::new(0, 33, 0)));
    }

    #[test]
    fn rejects_malformed_references() {
        assert_eq!(ImageRef::parse("  "), Err(ImageRefError::Empty));
        use ImageRefError as E;
        type IsExpected = fn(&ImageRefError) -> bool;
        let cases: [(&str, IsExpected); 6] = [
            ("Vllm/Vllm-OpenAI:v1", |e| {
                matches!(e, E::InvalidRepository(_))
            }),
            ("app:", |e| matches!(e, E::InvalidTag(_))),
            ("app:-x", |e| matches!(e, E::InvalidTag(_))),
            ("app@sha256:abc", |e| matches!(e, E::InvalidDigest(_))),
            ("a//b", |e| matches!(e, E::EmptyComponent(_))),
            ("ghcr.io/", |e| matches!(e, E::EmptyComponent(_))),
        ];
        for (text, is_expected) in cases {
            let err = ImageRef::parse(text).expect_err(text);
            assert!(is_expected(&err), "{text}: {err:?}");
        }
    }

    #[test]
    fn pinning_cases() {
        assert_eq!(is_pinned("vllm/vllm-openai:v0.33.0"), Ok(Pinning::Pinned));
        assert_eq!(is_pinned("vllm/vllm-openai:latest"), Ok(Pinning::Latest));
        assert_eq!(is_pinned("vllm/vllm-openai"), Ok(Pinning::Untagged));
        assert_eq!(is_pinned("localhost:5000/app"), Ok(Pinning::Untagged));
        assert_eq!(
            is_pinned(&format!("vllm/vllm-openai@{D}")),
            Ok(Pinning::Digest)
        );
        assert_eq!(
            is_pinned(&format!("vllm/vllm-openai:latest@{D}")),
            Ok(Pinning::Digest)
        );
        assert!(is_pinned("").is_err());
    }

    #[test]
    fn families_including_hub_normalisation() {
        use ImageFamily as F;
        let cases = [
            ("docker.io/postgres:16", Some(F::Postgres)),
            ("docker.io/library/postgres:16", Some(F::Postgres)),
            ("postgres:16", Some(F::Postgres)),
            ("bitnami/zookeeper:3.9", Some(F::Zookeeper)),
            ("signoz/zookeeper:3.7.1", Some(F::Zookeeper)),
            (
                "otel/opentelemetry-collector-contrib:0.159.0",
                Some(F::CollectorContrib),
            ),
            (
                "otel/opentelemetry-collector:0.159.0",
                Some(F::CollectorCore),
            ),
            (
                "signoz/signoz-otel-collector:v0.144.6",
                Some(F::SignozOtelCollector),
            ),
            // Same path on another registry is not assumed to be the same image.
            ("ghcr.io/vllm/vllm-openai:v0.33.0", None),
            ("nginx:1.27", None),
        ];
        for (text, family) in cases {
            assert_eq!(parse(text).family(), family, "{text}");
        }
    }

    #[test]
    fn version_mapping() {
        let vllm = [
            ("vllm/vllm-openai:v0.33.0", Some(Version::new(0, 33, 0))),
            ("vllm/vllm-openai:latest", None),
            ("otel/opentelemetry-collector-contrib:0.159.0", None),
        ];
        for (text, version) in vllm {
            assert_eq!(vllm_version(&parse(text)), version, "{text}");
        }
        let collector = [
            (
                "otel/opentelemetry-collector-contrib:0.102.0",
                Some(Version::new(0, 102, 0)),
            ),
            (
                "otel/opentelemetry-collector-contrib:v0.159.0",
                Some(Version::new(0, 159, 0)),
            ),
            ("signoz/signoz-otel-collector:v0.144.6", None),
        ];
        for (text, version) in collector {
            assert_eq!(collector_version(&parse(text)), version, "{text}");
        }
    }

    #[test]
    fn recommended_tags_are_pinned_and_belong_to_their_family() {
        for t in KNOWN_TAGS {
            let r = parse(&format!("{}:{}", t.repository, t.tag));
            assert_eq!(r.family(), Some(t.family), "{}", t.repository);
            assert_eq!(r.pinning(), Pinning::Pinned);
        }
        assert_eq!(
            ImageFamily::Signoz.recommended_tag().map(|t| t.tag),
            Some("v0.138.0")
        );
        assert_eq!(
            ImageFamily::SignozOtelCollector
                .recommended_tag()
                .map(|t| t.tag),
            Some("v0.144.6")
        );
        assert_eq!(
            ImageFamily::ClickhouseServer
                .recommended_tag()
                .map(|t| t.tag),
            Some("25.5.6")
        );
        assert_eq!(ImageFamily::Tempo.recommended_tag(), None);
        // Exactly one recommended tag per family that has any.
        for (_, f) in FAMILIES {
            assert!(f.known_tags().filter(|t| t.recommended).count() <= 1);
        }
        assert_eq!(
            ImageFamily::Zookeeper.repositories().collect::<Vec<_>>(),
            vec!["signoz/zookeeper", "bitnami/zookeeper"]
        );
    }
}
