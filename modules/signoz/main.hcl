# SigNoz, its ClickHouse (with ZooKeeper), the schema migrator and SigNoz's collector (the OTLP
# ingest) as one compose project on one machine. Inputs: variables.hcl; outputs: outputs.hcl.

locals {
  # SigNoz calls histogramQuantile for histogram percentiles (v0.138.0
  # metricsstatementbuilder/statement_builder.go:778). Upstream's init-clickhouse downloads the
  # release at every start without checking it (v0.129.0 docker-compose.yaml:61-79); here the
  # release is pinned and its sha256 checked (sources: docs/reference/signoz-deployment.md); the
  # inputs `histogram_quantile_url` and `histogram_quantile_sha256` name it.
  install_histogram_quantile = <<-SH
    dest=/var/lib/clickhouse/user_scripts/histogramQuantile
    [ "$(uname -m)" = x86_64 ] || { echo "histogram-quantile is pinned for x86_64 only" >&2; exit 1; }
    if [ -x "$dest" ] && [ "$(cat "$dest.sha256" 2>/dev/null)" = "$HISTOGRAM_QUANTILE_SHA256" ]; then exit 0; fi
    tmp=$(mktemp -d)
    wget -q -T 60 -O "$tmp/release.tar.gz" "$HISTOGRAM_QUANTILE_URL"
    echo "$HISTOGRAM_QUANTILE_SHA256  $tmp/release.tar.gz" | sha256sum -c -
    tar -xzf "$tmp/release.tar.gz" -C "$tmp"
    bin=$(find "$tmp" -type f -name histogram-quantile | head -n 1)
    install -m 0755 "$bin" "$dest.new"
    mv "$dest.new" "$dest"
    echo "$HISTOGRAM_QUANTILE_SHA256" > "$dest.sha256"
  SH
}

# SigNoz as upstream deploys it at v0.129.0 (deploy/docker/docker-compose.yaml, the last tag with a
# compose deployment; later releases point to SigNoz Foundry), with the versions v0.138.0 needs.
# Every setting below says why it is there; sources: docs/reference/signoz-deployment.md.
compose "signoz" {
  on        = var.on
  project   = var.project
  directory = var.directory
  volumes   = ["zookeeper-data", "signoz-data", "clickhouse-user-scripts"]

  # Upstream caps every service's output at 3 x 50 MB (docker-compose.yaml:6-9).
  logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }

  service "zookeeper" {
    image   = "signoz/zookeeper:3.7.1"
    user    = "root"
    volumes = ["zookeeper-data:/bitnami/zookeeper"]
    environment = {
      ZOO_SERVER_ID                 = "1"
      ALLOW_ANONYMOUS_LOGIN         = "yes"
      ZOO_AUTOPURGE_INTERVAL        = "1"
      ZOO_ENABLE_PROMETHEUS_METRICS = "yes"
    }
    restart = "unless-stopped"
    healthcheck {
      test     = ["CMD-SHELL", "curl -s -m 2 http://localhost:8080/commands/ruok | grep error | grep null"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
  }

  # Puts the pinned, checked histogramQuantile binary where ClickHouse runs it from
  # (user_scripts_path), once: the volume keeps it and its digest across restarts.
  service "init-clickhouse" {
    image   = "clickhouse/clickhouse-server:25.5.6"
    command = ["bash", "-ec", local.install_histogram_quantile]
    environment = {
      HISTOGRAM_QUANTILE_URL    = var.histogram_quantile_url
      HISTOGRAM_QUANTILE_SHA256 = var.histogram_quantile_sha256
    }
    volumes = ["clickhouse-user-scripts:/var/lib/clickhouse/user_scripts"]
    restart = "on-failure"
  }

  service "clickhouse" {
    image = "clickhouse/clickhouse-server:25.5.6"
    # Since 25.1.3 the image's entrypoint would shut the `default` user in to localhost, and the
    # migrator, SigNoz and the collector could not log in (ClickHouse PR #75259). Upstream sets
    # this too (docker-compose.yaml:38-39); the users are set up by users.d/signoz.xml below.
    environment = {
      CLICKHOUSE_SKIP_USER_SETUP = "1"
    }
    secret_environment = {
      CLICKHOUSE_SIGNOZ_PASSWORD = var.clickhouse_password
    }
    volumes = [
      # A directory on the machine, e.g. on a Hetzner volume, not on the root disk (upstream keeps a
      # named volume, :108).
      "${var.clickhouse_data}:/var/lib/clickhouse",
      "clickhouse-user-scripts:/var/lib/clickhouse/user_scripts:ro",
    ]
    # ClickHouse opens a file per column per part; upstream raises the limits (:33-37), and
    # Docker 29 otherwise leaves containers at 1024 open files.
    ulimits = {
      nofile = { soft = 262144, hard = 262144 }
      nproc  = 65535
    }
    restart = "unless-stopped"
    depends_on = {
      zookeeper       = "service_healthy"
      init-clickhouse = "service_completed_successfully"
    }
    healthcheck {
      test     = ["CMD", "wget", "--spider", "-q", "0.0.0.0:8123/ping"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
    # Replication, as the migrator is told below, needs ZooKeeper, the cluster and the macros
    # its ReplicatedMergeTree tables expand (upstream config.xml:656-659 and cluster.xml). The
    # replica entry logs in as `signoz` for distributed queries.
    file "/etc/clickhouse-server/config.d/cluster.xml" {
      content = <<-XML
        <clickhouse>
          <macros>
            <shard>01</shard>
            <replica>clickhouse-01</replica>
          </macros>
          <zookeeper>
            <node index="1">
              <host>zookeeper</host>
              <port>2181</port>
            </node>
          </zookeeper>
          <remote_servers>
            <cluster>
              <shard>
                <replica>
                  <host>clickhouse</host>
                  <port>9000</port>
                  <user>signoz</user>
                  <password from_env="CLICKHOUSE_SIGNOZ_PASSWORD"/>
                </replica>
              </shard>
            </cluster>
          </remote_servers>
        </clickhouse>
      XML
    }
    # Logs at `information` as upstream (config.xml:25; ClickHouse's default is trace), the
    # text_log table off as upstream, and the other system logs kept one day, as Foundry's
    # config-0-0.yaml keeps them (v0.129.0 sets no TTL: its query_log one is commented out).
    file "/etc/clickhouse-server/config.d/logs.xml" {
      content = <<-XML
        <clickhouse>
          <logger>
            <level>information</level>
          </logger>
          <text_log remove="remove"/>
          <query_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></query_log>
          <query_thread_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></query_thread_log>
          <query_views_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></query_views_log>
          <query_metric_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></query_metric_log>
          <part_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></part_log>
          <trace_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></trace_log>
          <metric_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></metric_log>
          <asynchronous_metric_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></asynchronous_metric_log>
          <error_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></error_log>
          <latency_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></latency_log>
          <processors_profile_log><ttl>event_date + INTERVAL 1 DAY DELETE</ttl></processors_profile_log>
        </clickhouse>
      XML
    }
    # `signoz` logs in from the compose network with the password from the env file; `default`
    # stays reachable from inside the container only, as the entrypoint would have left it.
    file "/etc/clickhouse-server/users.d/signoz.xml" {
      content = <<-XML
        <clickhouse>
          <users>
            <default>
              <networks replace="replace">
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
              </networks>
            </default>
            <signoz>
              <password from_env="CLICKHOUSE_SIGNOZ_PASSWORD"/>
              <networks>
                <ip>::/0</ip>
              </networks>
              <profile>default</profile>
              <quota>default</quota>
            </signoz>
          </users>
        </clickhouse>
      XML
    }
    # The executable function SigNoz calls for percentiles (upstream custom-function.xml); the
    # name matches ClickHouse's default user_defined_executable_functions_config, *_function.*ml.
    file "/etc/clickhouse-server/histogram_quantile_function.xml" {
      content = <<-XML
        <functions>
          <function>
            <type>executable</type>
            <name>histogramQuantile</name>
            <return_type>Float64</return_type>
            <argument>
              <type>Array(Float64)</type>
              <name>buckets</name>
            </argument>
            <argument>
              <type>Array(Float64)</type>
              <name>counts</name>
            </argument>
            <argument>
              <type>Float64</type>
              <name>quantile</name>
            </argument>
            <format>CSV</format>
            <command>./histogramQuantile</command>
          </function>
        </functions>
      XML
    }
  }

  # The DSNs log in as `signoz`; they reach the services through their env files only.
  service "schema-migrator" {
    image      = "signoz/signoz-otel-collector:v0.144.6"
    entrypoint = ["/bin/sh"]
    command    = ["-c", "/signoz-otel-collector migrate bootstrap && /signoz-otel-collector migrate sync up && /signoz-otel-collector migrate async up"]
    environment = {
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_CLUSTER     = "cluster"
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION = "true"
      SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "10m"
    }
    secret_environment = {
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_DSN = "tcp://signoz:${var.clickhouse_password}@clickhouse:9000"
    }
    restart = "on-failure"
    depends_on = {
      clickhouse = "service_healthy"
    }
  }

  service "signoz" {
    image   = "signoz/signoz:v0.138.0"
    ports   = ["8080:8080"]
    volumes = ["signoz-data:/var/lib/signoz"]
    environment = {
      SIGNOZ_TELEMETRYSTORE_PROVIDER = "clickhouse"
      SIGNOZ_SQLSTORE_SQLITE_PATH    = "/var/lib/signoz/signoz.db"
      SIGNOZ_ANALYTICS_ENABLED       = "false"
      SIGNOZ_STATSREPORTER_ENABLED   = "false"
    }
    secret_environment = {
      SIGNOZ_TOKENIZER_JWT_SECRET          = var.jwt_secret
      SIGNOZ_TELEMETRYSTORE_CLICKHOUSE_DSN = "tcp://signoz:${var.clickhouse_password}@clickhouse:9000"
    }
    restart = "unless-stopped"
    depends_on = {
      clickhouse      = "service_healthy"
      schema-migrator = "service_completed_successfully"
    }
    healthcheck {
      test     = ["CMD", "wget", "--spider", "-q", "localhost:8080/api/v1/health"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
  }

  # SigNoz's own collector is the OTLP ingest (gRPC 4317 and HTTP 4318, as upstream publishes
  # them, :154-157); the `signoz` service serves only the UI/API.
  service "signoz-otel-collector" {
    image   = "signoz/signoz-otel-collector:v0.144.6"
    command = ["--config=/etc/otel-collector-config.yaml", "--manager-config=/etc/manager-config.yaml", "--copy-path=/var/tmp/collector-config.yaml"]
    ports   = ["4317:4317", "4318:4318"]
    environment = {
      OTEL_RESOURCE_ATTRIBUTES = "host.name=signoz-host,os.type=linux"
    }
    # Read by the exporters' DSNs below as ${env:CLICKHOUSE_SIGNOZ_PASSWORD}.
    secret_environment = {
      CLICKHOUSE_SIGNOZ_PASSWORD = var.clickhouse_password
    }
    restart = "unless-stopped"
    depends_on = {
      clickhouse      = "service_healthy"
      schema-migrator = "service_completed_successfully"
      signoz          = "service_healthy"
    }
    file "/etc/manager-config.yaml" {
      content = <<-YAML
        server_endpoint: ws://signoz:4320/v1/opamp
      YAML
    }
    # As upstream's otel-collector-config.yaml at v0.129.0: OTLP gRPC and HTTP; span metrics
    # (signozspanmetrics/delta), which SigNoz's APM pages read; the signozmeter connector and
    # its exporter. Without the Prometheus self-scrape and pprof, which nothing here reads.
    file "/etc/otel-collector-config.yaml" {
      content = <<-YAML
        connectors:
          signozmeter:
            metrics_flush_interval: 1h
            dimensions:
              - name: service.name
              - name: deployment.environment
              - name: host.name
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 0.0.0.0:4317
              http:
                endpoint: 0.0.0.0:4318
        processors:
          batch:
            send_batch_size: 10000
            send_batch_max_size: 11000
            timeout: 10s
          batch/meter:
            send_batch_size: 20000
            send_batch_max_size: 25000
            timeout: 1s
          signozspanmetrics/delta:
            metrics_exporter: signozclickhousemetrics
            metrics_flush_interval: 60s
            latency_histogram_buckets: [100us, 1ms, 2ms, 6ms, 10ms, 50ms, 100ms, 250ms, 500ms, 1000ms, 1400ms, 2000ms, 5s, 10s, 20s, 40s, 60s]
            dimensions_cache_size: 100000
            aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
            enable_exp_histogram: true
            dimensions:
              - name: service.namespace
                default: default
              - name: deployment.environment
                default: default
              - name: signoz.collector.id
              - name: service.version
              - name: host.name
              - name: container.name
        exporters:
          clickhousetraces:
            datasource: tcp://signoz:$${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/signoz_traces
            use_new_schema: true
          signozclickhousemetrics:
            dsn: tcp://signoz:$${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/signoz_metrics
          clickhouselogsexporter:
            dsn: tcp://signoz:$${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/signoz_logs
            timeout: 10s
            use_new_schema: true
          signozclickhousemeter:
            dsn: tcp://signoz:$${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/signoz_meter
            timeout: 45s
            sending_queue:
              enabled: false
          metadataexporter:
            cache:
              provider: in_memory
            dsn: tcp://signoz:$${env:CLICKHOUSE_SIGNOZ_PASSWORD}@clickhouse:9000/signoz_metadata
            enabled: true
            timeout: 45s
        extensions:
          health_check:
            endpoint: 0.0.0.0:13133
        service:
          extensions: [health_check]
          pipelines:
            traces:
              receivers: [otlp]
              processors: [signozspanmetrics/delta, batch]
              exporters: [clickhousetraces, metadataexporter, signozmeter]
            metrics:
              receivers: [otlp]
              processors: [batch]
              exporters: [signozclickhousemetrics, metadataexporter, signozmeter]
            logs:
              receivers: [otlp]
              processors: [batch]
              exporters: [clickhouselogsexporter, metadataexporter, signozmeter]
            metrics/meter:
              receivers: [signozmeter]
              processors: [batch/meter]
              exporters: [signozclickhousemeter]
      YAML
    }
  }
}

# ClickHouse, the migrator and SigNoz start in a chain of health checks: 15 minutes.
check "ui" {
  compose = compose.signoz
  within  = "15m"
  http {
    url = "http://127.0.0.1:8080/api/v1/health"
  }
}
