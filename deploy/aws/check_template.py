#!/usr/bin/env python3
"""Checks that deploy/aws/cache-warmer.yaml matches what the binary does.

- Every environment variable and secret the worker's task definition passes is one the
  binary's sources read (ProcessInfo environment look-ups), and the required ones are passed.
- Every alarm on the worker's own metrics names a metric the worker emits (the labels in
  Sources/CacheWarmer/Observability) that the CloudWatch agent sidecar forwards (its
  metric_selectors); the RDS and ECS alarms the runbook relies on exist.
- The task definition's health check asks the same path and port as the Dockerfile's.

Usage: check_template.py [--metrics-file FILE] [--self-test]
  --metrics-file: a /metrics scrape of a running worker; the alarmed names must appear in it.
  --self-test: breaks copies of the template in known ways and fails unless each is caught.
Exit status 0 when clean, 1 with one line per problem.
"""
import copy
import json
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy/aws/cache-warmer.yaml"
DOCKERFILE = ROOT / "deploy/container/Dockerfile"
SOURCES = ROOT / "Sources"
OBSERVABILITY = SOURCES / "CacheWarmer/Observability"

# Read by the worker for every command; without them it cannot run.
REQUIRED_VARIABLES = {"DB_WRITER_URL", "REDIS_URL"}
# The RDS alarms docs/operations.md refers to, and the ECS one.
REQUIRED_RDS_METRICS = {"OldestReplicationSlotLag", "TransactionLogsDiskUsage", "ReplicaLag", "FreeStorageSpace"}
WORKER_NAMESPACE = "CacheWarmer"


def variables_read_by_binary():
    """Names looked up in the process environment anywhere in Sources/."""
    names = set()
    pattern = re.compile(r'environment\[\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\]|getenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')
    for path in SOURCES.rglob("*.swift"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def metrics_emitted_by_worker():
    """swift-metrics labels declared in Sources/CacheWarmer/Observability (the /metrics names)."""
    names = set()
    for path in OBSERVABILITY.glob("*.swift"):
        names.update(re.findall(r'label:\s*"([a-z_][a-z0-9_]*)"', path.read_text(encoding="utf-8")))
    return names


def resources_of_type(template, kind):
    return {name: body for name, body in template.get("Resources", {}).items() if body.get("Type") == kind}


def sub_text(value):
    """The literal text of a string or an Fn::Sub (placeholders left as ${...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def container(template, name):
    for definition in resources_of_type(template, "AWS::ECS::TaskDefinition").values():
        for item in definition["Properties"].get("ContainerDefinitions", []):
            if item.get("Name") == name:
                return item
    return None


def agent_selectors(template):
    """The metric_selectors the CloudWatch agent sidecar forwards into the worker namespace."""
    agent = container(template, "metrics-agent")
    if agent is None:
        return None, ["no metrics-agent container in the task definition"]
    for variable in agent.get("Environment", []):
        if variable.get("Name") == "CW_CONFIG_CONTENT":
            text = re.sub(r"\$\{[^}]+\}", "placeholder", sub_text(variable.get("Value")) or "")
            try:
                config = json.loads(text)
            except ValueError as error:
                return None, [f"metrics-agent CW_CONFIG_CONTENT is not JSON: {error}"]
            processor = config["logs"]["metrics_collected"]["prometheus"]["emf_processor"]
            problems = []
            if processor.get("metric_namespace") != WORKER_NAMESPACE:
                problems.append(f"metrics-agent metric_namespace is {processor.get('metric_namespace')!r}, alarms use {WORKER_NAMESPACE!r}")
            selectors = [s for declaration in processor["metric_declaration"] for s in declaration["metric_selectors"]]
            return selectors, problems
    return None, ["metrics-agent has no CW_CONFIG_CONTENT"]


def alarm_metrics(alarm):
    """(namespace, metric name) pairs an alarm reads, plain or through metric math."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        yield properties.get("Namespace"), properties["MetricName"]
    for query in properties.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric")
        if metric:
            yield metric.get("Namespace"), metric.get("MetricName")


def healthcheck_of_dockerfile():
    text = DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])\s*$", text.replace("\\\n", " "), re.MULTILINE)
    expose = re.search(r"^EXPOSE (\d+)", text, re.MULTILINE)
    return (match.group(1) if match else ""), (expose.group(1) if expose else None)


def check(template, scraped=None):
    problems = []
    worker = container(template, "worker")
    if worker is None:
        return ["no container named worker in the task definition"]

    # Environment variables and secrets.
    read = variables_read_by_binary()
    passed = [v["Name"] for v in worker.get("Environment", [])] + [s["Name"] for s in worker.get("Secrets", [])]
    for name in passed:
        if name not in read:
            problems.append(f"task definition passes {name}, which the binary never reads (Sources/ reads: {', '.join(sorted(read))})")
    for name in sorted(REQUIRED_VARIABLES - set(passed)):
        problems.append(f"task definition does not pass {name}, which the worker needs")
    for secret in worker.get("Secrets", []):
        if secret["Name"] in {v["Name"] for v in worker.get("Environment", [])}:
            problems.append(f"{secret['Name']} is both a plain variable and a secret")

    # Alarms against emitted and forwarded metrics.
    emitted = metrics_emitted_by_worker()
    selectors, agent_problems = agent_selectors(template)
    problems += agent_problems
    seen_rds, seen_ecs, seen_worker = set(), False, set()
    for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        for namespace, metric in alarm_metrics(alarm):
            if namespace == WORKER_NAMESPACE:
                seen_worker.add(metric)
                if metric not in emitted:
                    problems.append(f"alarm {name}: {metric} is not a metric the worker emits ({', '.join(sorted(emitted))})")
                if selectors is not None and not any(re.fullmatch(s.strip("^$"), metric) for s in selectors):
                    problems.append(f"alarm {name}: {metric} is not forwarded by the metrics agent's metric_selectors")
                if scraped is not None:
                    if not re.search(rf"^{re.escape(metric)}(\{{| )", scraped, re.MULTILINE):
                        problems.append(f"alarm {name}: {metric} does not appear in the scraped /metrics")
                    kind = re.search(rf"^# TYPE {re.escape(metric)} (\w+)", scraped, re.MULTILINE)
                    # The CloudWatch agent forwards counters (as deltas), gauges and summaries; it drops histograms.
                    if kind and kind.group(1) not in ("counter", "gauge", "summary"):
                        problems.append(f"alarm {name}: {metric} is a {kind.group(1)}, which the CloudWatch agent drops")
            elif namespace == "AWS/RDS":
                seen_rds.add(metric)
            elif namespace == "ECS/ContainerInsights" and metric == "RunningTaskCount":
                seen_ecs = True
            else:
                problems.append(f"alarm {name}: unexpected metric {namespace}/{metric}")
    for metric in sorted(REQUIRED_RDS_METRICS - seen_rds):
        problems.append(f"no alarm on AWS/RDS {metric}")
    if not seen_ecs:
        problems.append("no alarm on ECS/ContainerInsights RunningTaskCount")
    if not seen_worker:
        problems.append("no alarm on the worker's own metrics")

    # Health check: same path and port as the image's.
    docker_check, exposed = healthcheck_of_dockerfile()
    task_check = " ".join(sub_text(part) or "" for part in worker.get("HealthCheck", {}).get("Command", []))
    port = str(template["Parameters"]["MetricsPort"]["Default"])
    if exposed != port:
        problems.append(f"Dockerfile EXPOSE {exposed} but the template's MetricsPort defaults to {port}")
    for text, where in ((docker_check, "Dockerfile HEALTHCHECK"), (task_check, "task definition HealthCheck")):
        if "/healthz" not in text or ("/dev/tcp/127.0.0.1/" not in text):
            problems.append(f"{where} does not ask /healthz on 127.0.0.1: {text!r}")
    if f"/dev/tcp/127.0.0.1/{port}" not in docker_check:
        problems.append(f"Dockerfile HEALTHCHECK does not use port {port}")
    if "/dev/tcp/127.0.0.1/${MetricsPort}" not in task_check:
        problems.append("task definition HealthCheck does not use ${MetricsPort}")
    return problems


def self_test(template):
    """Each mutation must be reported; returns the mutations that were not."""
    def add_variable(t):
        container(t, "worker")["Environment"].append({"Name": "CACHE_WARMER_UNUSED", "Value": "1"})

    def drop_secret(t):
        worker = container(t, "worker")
        worker["Secrets"] = [s for s in worker["Secrets"] if s["Name"] != "REDIS_URL"]

    def rename_metric(t):
        resources_of_type(t, "AWS::CloudWatch::Alarm")["WorkerApplyLagAlarm"]["Properties"]["MetricName"] = "cache_warmer_apply_lag_seconds"

    def drop_rds_alarm(t):
        del t["Resources"]["OldestReplicationSlotLagAlarm"]

    def unforwarded(t):
        props = resources_of_type(t, "AWS::CloudWatch::Alarm")["WorkerRedisErrorsAlarm"]["Properties"]
        props["MetricName"] = "cache_warmer_batches_total"

    missed = []
    for mutation in (add_variable, drop_secret, rename_metric, drop_rds_alarm, unforwarded):
        broken = copy.deepcopy(template)
        mutation(broken)
        if not check(broken):
            missed.append(mutation.__name__)
    return missed


def main(arguments):
    template = cfn_yaml.load(str(TEMPLATE))
    scraped = None
    if "--metrics-file" in arguments:
        scraped = pathlib.Path(arguments[arguments.index("--metrics-file") + 1]).read_text(encoding="utf-8")
    problems = check(template, scraped)
    if "--self-test" in arguments:
        problems += [f"self-test: breaking the template by {name} went unnoticed" for name in self_test(template)]
    for problem in problems:
        print(f"{TEMPLATE.relative_to(ROOT)}: {problem}")
    if not problems:
        print(f"{TEMPLATE.relative_to(ROOT)}: environment, secrets, alarms and health check match the binary" + (" and its /metrics" if scraped else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
