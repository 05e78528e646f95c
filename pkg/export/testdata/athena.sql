-- Athena (engine v3) tables over a flowlens export.
-- 1. Copy the export's directory to S3, e.g.: aws s3 cp --recursive DIR s3://YOUR-BUCKET/prefix/
--    (exports of several shards or runs may share the prefix: their file names differ).
-- 2. Replace s3://YOUR-BUCKET/prefix/ below with that prefix and run each statement.
-- 3. Load the partitions after each copy: MSCK REPAIR TABLE <table>; (or use partition projection, below).
-- Columns are quoted with backticks: date, hour, start and end are reserved words (in queries, quote them
-- with double quotes: "date", "end").

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_flows` (
  `version` int,
  `account_id` string,
  `interface_id` string,
  `srcaddr` string,
  `dstaddr` string,
  `srcport` int,
  `dstport` int,
  `protocol` int,
  `packets` bigint,
  `bytes` bigint,
  `start` bigint,
  `end` bigint,
  `action` string,
  `log_status` string,
  `source_file` string,
  `source_line` bigint,
  `direction` string,
  `model_action` string,
  `model_agrees` boolean,
  `verdict_layer` string,
  `verdict_rule` string,
  `verdict_resource` string,
  `verdict_also` string,
  `verdict_cause` string,
  `nacl_id` string,
  `nacl_rule` string,
  `sg_rule` string,
  `flow_role` string,
  `initiator` string,
  `verdict_steps` string
)
PARTITIONED BY (`date` string, `hour` string)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/flows/';
MSCK REPAIR TABLE `flowlens_flows`;
-- Or, instead of MSCK REPAIR TABLE, partition projection (set the date range's start to your first day):
-- ALTER TABLE `flowlens_flows` SET TBLPROPERTIES (
--   'projection.enabled' = 'true',
--   'projection.date.type' = 'date', 'projection.date.format' = 'yyyy-MM-dd', 'projection.date.range' = '2026-11-20,NOW',
--   'projection.hour.type' = 'integer', 'projection.hour.range' = '0,23', 'projection.hour.digits' = '2',
--   'storage.location.template' = 's3://YOUR-BUCKET/prefix/flows/date=${date}/hour=${hour}/');

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_rule_hits` (
  `rule_type` string,
  `resource_id` string,
  `rule_id` string,
  `direction` string,
  `action` string,
  `rule` string,
  `hits` bigint,
  `packets` bigint,
  `bytes` bigint,
  `first_seen` bigint,
  `last_seen` bigint,
  `shadowed_by` bigint
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/rule_hits/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_ingest_errors` (
  `file` string,
  `line` bigint,
  `reason` string,
  `field` string,
  `text` string,
  `last_line` bigint
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/ingest_errors/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_subnets` (
  `subnet_id` string,
  `vpc_id` string,
  `az` string,
  `cidrs` string,
  `nacl_id` string,
  `nacl_explicit` boolean
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_subnets/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_enis` (
  `interface_id` string,
  `subnet_id` string,
  `vpc_id` string,
  `primary_address` string,
  `addresses` string,
  `public_ips` string,
  `groups` string,
  `interface_type` string,
  `instance_id` string,
  `description` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_enis/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_security_groups` (
  `group_id` string,
  `group_name` string,
  `vpc_id` string,
  `owner_id` string,
  `description` string,
  `ingress_rules` bigint,
  `egress_rules` bigint
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_security_groups/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_sg_rules` (
  `group_id` string,
  `rule_id` string,
  `direction` string,
  `rule` string,
  `protocol` bigint,
  `from_port` bigint,
  `to_port` bigint,
  `peer_kind` string,
  `peer` string,
  `description` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_sg_rules/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_nacl_entries` (
  `nacl_id` string,
  `vpc_id` string,
  `is_default` boolean,
  `direction` string,
  `rule_number` bigint,
  `action` string,
  `cidr` string,
  `protocol` bigint,
  `from_port` bigint,
  `to_port` bigint,
  `icmp_type` bigint,
  `icmp_code` bigint,
  `shadowed_by` bigint,
  `subnets` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_nacl_entries/';

CREATE EXTERNAL TABLE IF NOT EXISTS `flowlens_topology_findings` (
  `severity` string,
  `file` string,
  `object` string,
  `message` string
)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/prefix/topology_findings/';
