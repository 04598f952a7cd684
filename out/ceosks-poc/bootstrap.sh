#!/usr/bin/env bash
# Bootstrap of SKS cluster ceosks-poc in at-vie-1: the seed runbook as idempotent steps.
# Rendered by sks-gitops from values; edit values/ (or templates/bootstrap/), not this file.
# ./bootstrap.sh --help lists the steps, what each waits for, the options and exit codes.
set -euo pipefail
shopt -s inherit_errexit

# ---- Values of this cluster ----------------------------------------------------------------
readonly CLUSTER=ceosks-poc
readonly ZONE=at-vie-1
readonly KUBERNETES_VERSION=1.31.1
readonly SERVICE_LEVEL=pro
readonly KUBECONFIG_USER=admin
readonly KUBECONFIG_GROUP=system:masters
readonly KUBECONFIG_TTL=604800
readonly NODEPOOL=ceosks-poc-worker
# The first security group of the nodepool is the one this script creates and keeps the rules
# of; any other listed group must already exist and is left alone.
readonly SECURITY_GROUP=ceosks-poc
readonly NODEPOOL_SECURITY_GROUPS=( ceosks-poc )
readonly NODEPOOL_ARGS=(
  --size 2
  --instance-type c6f99499-7f59-4138-9427-a09db13af2bc
  --disk-size 50
  --security-group ceosks-poc
)
readonly ENDPOINT_PORT=30925
readonly ENDPOINT_IP=''
readonly BYPASS_MODE=port
readonly GITOPS_PATH=out/ceosks-poc
readonly FIELD_MANAGER=sks-gitops
# TigeraStatus objects the rendered custom resources make the operator report (renderer/model/series.py).
readonly EXPECTED_TIGERASTATUS=( calico ippools apiserver tiers monitor log-storage log-storage-secrets log-storage-elastic log-storage-access log-storage-esmetrics log-storage-dashboards log-storage-kubecontrollers log-collector compliance intrusion-detection manager policy-recommendation )

# Ingress rules of $SECURITY_GROUP: protocol, ports ("-" for none), source (@self: members of
# the group; @nodeports: --nodeport-source) and description. Exoscale's SKS example opens
# kubelet, VXLAN and the NodePort range; Typha and the encapsulation in use complete it. BGP
# (TCP 179) only where the rendered Installation enables it: IP-in-IP and unencapsulated pools.
readonly SECURITY_GROUP_RULES=(
  "tcp 10250 @self kubelet API between nodes"
  "tcp 5473 @self Calico Typha"
  'udp 4789 @self Calico VXLAN encapsulation'
  "tcp 30000-32767 @nodeports Kubernetes NodePort services"
)

# The steps in order, as name|function|description|facts it waits for. The order and the facts
# come from the stage model (renderer/render/bootstrap.py); --from takes a name; --help lists them.
readonly STEPS=(
  'preflight|step_preflight|tools, flags, rendered tree and secret files (no cloud call)|'
  'security-group|step_security_group|security group ceosks-poc and the ingress rules the nodes need|'
  'cluster|step_cluster|SKS cluster ceosks-poc without CNI and without nodes|'
  'kubeconfig|step_kubeconfig|admin kubeconfig, mode 0600, outside the repository|'
  'endpoint|step_endpoint|real endpoint of the kubernetes Service against apiServer in values|'
  '01-longhorn|stage_01_longhorn|stage 1: Longhorn storage|'
  '02-storageclass|stage_02_storageclass|stage 2: StorageClass tigera-elasticsearch|'
  '03-tigera-operator|stage_03_tigera_operator|stage 3: Tigera operator|'
  '04-tigera-prometheus-operator|stage_04_tigera_prometheus_operator|stage 4: Tigera Prometheus operator|'
  'nodepool|step_nodepool|nodepool ceosks-poc-worker (2 nodes)|crds:operator.tigera.io'
  '05-pull-secrets|stage_05_pull_secrets|stage 5: Pull secret tigera-pull-secret|namespace:tigera-operator'
  '06-tigera-custom-resources|stage_06_tigera_custom_resources|stage 6: Tigera custom resources (no license needed)|crds:operator.tigera.io'
  '07-license|stage_07_license|stage 7: Calico Enterprise license|api:projectcalico.org/v3'
  '10-argocd|stage_10_argocd|stage 10: Argo CD v3.5.1|calico'
  '08-bypass-policies|stage_08_bypass_policies|stage 8: API server endpoint bypass policy|api:projectcalico.org/v3 tier:operator'
  '09-tigera-enterprise-resources|stage_09_tigera_enterprise_resources|stage 9: Tigera custom resources that need the license|crds:operator.tigera.io'
  'health|step_health|wait until every tigerastatus is Available|'
  'handover|step_handover|repository credential from a file, then hand the applied stages over to Argo CD|nodes crds:argoproj.io engine:argocd'
)

readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_STOPPED=3
readonly SSA=(--server-side --force-conflicts "--field-manager=$FIELD_MANAGER")
readonly NAMES='jsonpath={range .data[*]}{.name}{"\n"}{end}'
readonly ITEM_NAMES='jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
readonly RULES='jsonpath={range .data.ingress_rules[*]}{.protocol} {.start_port}-{.end_port} {.network}{.security_group}{"\n"}{end}'
readonly NODEPOOLS='jsonpath={range .data.nodepools[*]}{.name}{"\n"}{end}'
# "|" separates fields, never whitespace: `read` would merge empty whitespace-separated fields.
readonly ENDPOINT='jsonpath={.items[0].endpoints[0].addresses[0]}|{.items[0].ports[0].port}'
readonly NODES_READY='jsonpath={range .items[*]}{.metadata.name}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
readonly AVAILABLE='jsonpath={.status.conditions[?(@.type=="Available")].status}'
readonly STATUS_ROWS='jsonpath={range .items[*]}{.metadata.name}|{.status.conditions[?(@.type=="Available")].status}{"\n"}{end}'

# Prints only the Go type of .auths (never a value): a docker config has a non-empty object.
readonly AUTHS_TYPE='go-template={{if eq (printf "%T" .data) "map[string]interface {}"}}{{with index .data "auths"}}{{printf "%T" .}}{{end}}{{end}}'
# The repository Secret of each engine (renderer/render/bootstrap.py git_secrets): namespace, name, labels.
readonly REPO_URL=https://git.example.com/platform/sks-gitops.git
readonly GIT_USERNAME=git
declare -rA GIT_SECRET_NAMESPACE=( [argocd]=argocd )
declare -rA GIT_SECRET_NAME=( [argocd]=ceosks-poc-repository )
declare -rA GIT_SECRET_LABELS=(
  [argocd]='{"metadata":{"labels":{"argocd.argoproj.io/secret-type":"repository","app.kubernetes.io/managed-by":"sks-gitops"}}}'
  [flux]='{"metadata":{"labels":{"app.kubernetes.io/managed-by":"sks-gitops"}}}'
)

# Workloads of an engine stage: kind/name|Available (Deployments)|ready/wanted replicas (StatefulSets).
readonly WORKLOADS='jsonpath={range .items[*]}{.kind}/{.metadata.name}|{.status.conditions[?(@.type=="Available")].status}|{.status.readyReplicas}/{.spec.replicas}{"\n"}{end}'

# Prints kind, name and whether token and certificate are set (never their values).
readonly LICENSE_SHAPE='go-template={{.apiVersion}}|{{.kind}}|{{with .metadata}}{{.name}}{{end}}|{{with .spec}}{{if and .token .certificate}}signed{{end}}{{end}}'
TREE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
readonly TREE SELF="${BASH_SOURCE[0]}"
PULL_SECRET_FILE=${BOOTSTRAP_PULL_SECRET:-}
LICENSE_FILE=${BOOTSTRAP_LICENSE:-}
GIT_CREDENTIAL_FILE=${BOOTSTRAP_GIT_CREDENTIAL:-}
KUBECONFIG_FILE=${KUBECONFIG:-${HOME:?}/.kube/$CLUSTER.config}
NODEPORT_SOURCE=${BOOTSTRAP_NODEPORT_SOURCE:-0.0.0.0/0}
WAIT_TIMEOUT=${BOOTSTRAP_WAIT_TIMEOUT:-300}
APISERVER_TIMEOUT=${BOOTSTRAP_APISERVER_TIMEOUT:-1800}
HEALTH_TIMEOUT=${BOOTSTRAP_HEALTH_TIMEOUT:-2700}
POLL_INTERVAL=${BOOTSTRAP_POLL_INTERVAL:-15}
readonly ORIGINAL_TMPDIR=${TMPDIR:-/tmp}
FROM=""
DRY_RUN=0
WORK=""
CURRENT_STEP=""
DELIBERATE_EXIT=0
# A temporary file that may hold a credential until it is moved into place; removed on exit.
KUBECONFIG_TMP=""
# Facts already found true in this run (see need).
declare -A READY=()

# ---- Output and command helpers ------------------------------------------------------------

say() { printf '%s\n' "$*" >&2; }
warn() { say "bootstrap: warning: $*"; }
die() { say "bootstrap: error: $*"; exit "$EXIT_FAILED"; }
usage_error() { say "bootstrap: $*"; DELIBERATE_EXIT=1; exit "$EXIT_USAGE"; }
stop() { say "bootstrap: stopped: $*"; DELIBERATE_EXIT=1; exit "$EXIT_STOPPED"; }

# Words quoted so that a shell reads them back unchanged (plain words stay unquoted).
shell_words() {
  local word out=() plain='^[A-Za-z0-9_./:=@,+%^-]+$'
  for word in "$@"; do
    if [[ $word =~ $plain ]]; then
      out+=("$word")
    else
      out+=("'${word//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${out[*]}"
}

# "+" marks a command that changes something, "?" one that only reads or waits, "#" a note.
# Lines go to fd 3: with --dry-run the script's stdout (the plan, nothing runs), otherwise
# stderr (a log). Never to fd 1, which may be the pipe of a command substitution.
print_line() {
  printf '%s %s\n' "$1" "$2" >&3
}
print_cmd() { local mark=$1; shift; print_line "$mark" "$(shell_words "$@")"; }

run() {
  print_cmd + "$@"
  if (( ! DRY_RUN )); then "$@"; fi
}

# A read whose stdout the caller parses; with --dry-run it prints nothing, so every resource
# looks absent and the plan shows a fresh run.
query() {
  print_cmd '?' "$@"
  if (( ! DRY_RUN )); then "$@"; fi
}

# Evaluates a kubectl output format (jsonpath=... or go-template=...) on the JSON read from
# stdin, which becomes .data of a local object. kubectl is the only JSON parser the script
# needs (no jq, no python); --local with an empty kubeconfig never contacts a cluster.
json_get() {
  local document
  document=$(cat)
  [[ -n $document ]] || return 0
  printf '{"apiVersion":"sks-gitops.invalid/v1","kind":"Parsed","metadata":{"name":"parsed"},"data":%s}' \
    "$document" | kubectl patch --kubeconfig=/dev/null --local --type=merge --patch='{}' --filename=- --output="$1"
}

contains_line() {
  local line
  while IFS= read -r line; do
    [[ $line == "$1" ]] && return 0
  done <<< "$2"
  return 1
}

# The absolute path with symlinks resolved in its longest existing prefix.
physical_path() {
  local path=$1 rest=""
  [[ $path == /* ]] || path=$PWD/$path
  while [[ ! -d $path ]]; do
    rest=/${path##*/}$rest
    path=${path%/*}
    [[ -n $path ]] || path=/
  done
  printf '%s%s\n' "$(cd -P -- "$path" && pwd)" "$rest"
}

repo_root() {
  local root=$TREE part
  IFS=/ read -ra part <<< "$GITOPS_PATH"
  for _ in "${part[@]}"; do root=$(dirname "$root"); done
  printf '%s\n' "$root"
}

# Polls CHECK ARGS... (it prints what is still missing, nothing when ready) every
# --poll-interval seconds, with one progress line per poll, until TIMEOUT seconds have passed.
poll_until() {
  local what=$1 timeout=$2 deadline=$((SECONDS + $2)) missing
  shift 2
  while :; do
    missing=$("$@")
    [[ -n $missing ]] || return 0
    say "  $what: waiting for $missing ($((timeout - (deadline - SECONDS)))s of ${timeout}s)"
    if (( SECONDS >= deadline )); then
      say "bootstrap: $what: still waiting after ${timeout}s for: $missing"
      return 1
    fi
    sleep "$POLL_INTERVAL"
  done
}

# Applies objects server-side unless a server-side diff finds nothing to change. A failing diff
# (new namespace or kind, no diff program) just means "apply".
apply_objects() {
  local flags=("${SSA[@]}")
  if [[ $1 == --no-force ]]; then
    flags=(--server-side "--field-manager=$FIELD_MANAGER")
    shift
  fi
  local label=$1
  shift
  print_cmd '?' kubectl diff "${flags[@]}" "$@"
  if (( ! DRY_RUN )) && kubectl diff "${flags[@]}" "$@" > /dev/null 2>&1; then
    say "$label: up to date"
    return 0
  fi
  run kubectl apply "${flags[@]}" "$@"
}

apply_tree_file() {
  apply_objects "$1" --filename "$TREE/$1"
}

# Builds a stage's Kustomize root once per run into $WORK/<stage>.yaml.
build_stage() {
  local built=$WORK/$1.yaml
  [[ ! -s $built ]] || return 0
  print_line '?' "$(shell_words kubectl kustomize "$TREE/$1") > $(shell_words "$built")"
  if (( ! DRY_RUN )); then kubectl kustomize "$TREE/$1" > "$built"; fi
}

# Applies exactly what build_stage built.
apply_stage() {
  build_stage "$1"
  apply_objects "stage $1" --filename "$WORK/$1.yaml"
}

require_crd() {
  print_cmd '?' kubectl get crd "$1" --output=name
  (( DRY_RUN )) || kubectl get crd "$1" --output=name > /dev/null 2>&1 ||
    stop "$2 is not installed in the cluster (no CustomResourceDefinition $1); install it, then resume with --from $CURRENT_STEP"
}

# The operator reconciles one Installation and one APIServer, both named default: another one
# (the seed names its APIServer tigera-secure) makes it report "multiple APIServer CRs".
require_only_default() {
  local names name
  names=$(query kubectl get "$1" --output "$ITEM_NAMES" 2> /dev/null) || names=""
  while IFS= read -r name; do
    [[ -n $name && $name != default ]] || continue
    stop "$1 $name exists, and this stage applies one named default: the Tigera operator accepts only one (it would report \"multiple $2 CRs\"). Carry any setting you need from it into values, then delete it (kubectl delete $1 $name) and resume with --from $CURRENT_STEP"
  done <<< "$names"
}

# `helm get values --output json` prints the values as Go's encoding/json does, which is how
# renderer/render/bootstrap.py writes them, so equal values compare equal as text.
helm_release() {
  local release=$1 chart=$2 repo=$3 version=$4 namespace=$5 values=$6 found current
  found=$(query helm list --namespace "$namespace" --all --filter "^$release\$" --output json |
    json_get 'jsonpath={range .data[*]}{.name}|{.status}|{.chart}{"\n"}{end}')
  if contains_line "$release|deployed|$chart-$version" "$found"; then
    current=$(query helm get values "$release" --namespace "$namespace" --output json)
    if [[ $current == "$values" ]]; then
      say "helm release $release: $chart $version is deployed with the rendered values"
      return 0
    fi
    say "helm release $release: its values differ from the rendered ones; upgrading"
  fi
  print_line '#' "$WORK/$release-values.json: $values"
  if (( ! DRY_RUN )); then printf '%s\n' "$values" > "$WORK/$release-values.json"; fi
  run helm upgrade --install "$release" "$chart" --repo "$repo" --version "$version" \
    --namespace "$namespace" --values "$WORK/$release-values.json"
}

# ---- Waits: one check per kind of fact (the table is renderer/render/bootstrap.py WAITS) ----------
# Each check prints what is still missing, nothing once the fact holds; kubectl fields are
# joined with "|" and split with parameter expansion, never by `read` on whitespace.

# need FACT: waits once per run for a fact a step needs.
need() {
  [[ -z ${READY[$1]:-} ]] || return 0
  case $1 in
    crds:operator.tigera.io) wait_fact "$1" "$WAIT_TIMEOUT" 'the CustomResourceDefinitions of operator.tigera.io are Established' wait_crds operator.tigera.io ;;
    namespace:tigera-operator) wait_fact "$1" "$WAIT_TIMEOUT" 'namespace tigera-operator exists' wait_namespace tigera-operator ;;
    api:projectcalico.org/v3) wait_fact "$1" "$APISERVER_TIMEOUT" 'the Tigera API server is Available (tigerastatus apiserver): it serves projectcalico.org/v3' wait_tigera_api projectcalico.org/v3 ;;
    calico) wait_fact "$1" "$APISERVER_TIMEOUT" 'tigerastatus calico is Available (the pod network runs)' wait_pod_network ;;
    tier:operator) wait_fact "$1" "$WAIT_TIMEOUT" 'Tier allow-tigera exists (the operator creates it once the license is processed)' wait_tier allow-tigera ;;
    nodes) wait_fact "$1" "$APISERVER_TIMEOUT" '2 nodes of nodepool ceosks-poc-worker are Ready' wait_nodes 2 ;;
    crds:argoproj.io) wait_fact "$1" "$WAIT_TIMEOUT" 'the CustomResourceDefinitions of argoproj.io are Established' wait_crds argoproj.io ;;
    engine:argocd) wait_fact "$1" "$WAIT_TIMEOUT" 'the Deployments and StatefulSets of argocd in namespace argocd are Available' wait_workloads argocd ;;
    *) die "no wait for the fact $1 (a bug in renderer/render/bootstrap.py)" ;;
  esac
  READY[$1]=1
}

wait_fact() {
  local fact=$1 timeout=$2 description=$3
  shift 3
  print_line '?' "wait up to ${timeout}s for $fact: $description"
  (( ! DRY_RUN )) || return 0
  poll_until "$fact" "$timeout" "$@" ||
    die "$fact: $description did not happen within ${timeout}s"
}

wait_crds() {
  local rows line out=()
  rows=$(kubectl get crd --output "jsonpath={range .items[?(@.spec.group==\"$1\")]}{.metadata.name}|{.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}" 2> /dev/null) || rows=""
  if [[ -z $rows ]]; then
    printf 'CustomResourceDefinitions of %s (none yet)' "$1"
    return 0
  fi
  while IFS= read -r line; do
    [[ -z $line || ${line#*|} == True ]] || out+=("${line%%|*}")
  done <<< "$rows"
  [[ -z ${out[*]} ]] || printf '%s Established' "${out[*]}"
}

wait_nodes() {
  local rows line ready=0
  rows=$(kubectl get nodes --output "$NODES_READY" 2> /dev/null) || rows=""
  while IFS= read -r line; do
    [[ -z $line || ${line#*|} != True ]] || ready=$((ready + 1))
  done <<< "$rows"
  (( ready >= $1 )) || printf '%s Ready nodes (now %s; nodes without a CNI stay NotReady)' "$1" "$ready"
}

wait_tigera_api() {
  local available
  available=$(kubectl get tigerastatus apiserver --output "$AVAILABLE" 2> /dev/null) || available=""
  [[ $available == True ]] || printf 'tigerastatus apiserver Available (now: %s)' "${available:-absent}"
}

wait_license() {
  kubectl get licensekeys.projectcalico.org default --output=name > /dev/null 2>&1 || printf 'LicenseKey default'
}

wait_tier() {
  kubectl get tiers.projectcalico.org "$1" --output=name > /dev/null 2>&1 || printf 'Tier %s' "$1"
}

wait_namespace() {
  kubectl get namespace "$1" --output=name > /dev/null 2>&1 || printf 'namespace %s' "$1"
}

wait_pull_secret() {
  local namespace missing=()
  for namespace in "$@"; do
    kubectl get secret tigera-pull-secret --namespace "$namespace" --output=name > /dev/null 2>&1 ||
      missing+=("$namespace/tigera-pull-secret")
  done
  [[ -z ${missing[*]} ]] || printf 'Secret %s' "${missing[*]}"
}

wait_stage_objects() {
  build_stage "$1" 3> /dev/null
  kubectl get --filename "$WORK/$1.yaml" --output=name > /dev/null 2>&1 || printf 'the objects of stage %s' "$1"
}

wait_pod_network() {
  local available
  available=$(kubectl get tigerastatus calico --output "$AVAILABLE" 2> /dev/null) || available=""
  [[ $available == True ]] || printf 'tigerastatus calico Available (now: %s)' "${available:-absent}"
}

# Every Deployment Available (the deployment controller's minimum-availability condition) and every
# StatefulSet with all its replicas ready, in the engine's namespace.
wait_workloads() {
  local rows line name available replicas out=()
  rows=$(kubectl get deployments --namespace "$1" --output "$WORKLOADS" 2> /dev/null) || rows=""
  if [[ -z $rows ]]; then
    printf 'Deployments in namespace %s (none yet)' "$1"
    return 0
  fi
  rows+=$'\n'$(kubectl get statefulsets --namespace "$1" --output "$WORKLOADS" 2> /dev/null) || true
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    name=${line%%|*} line=${line#*|}
    available=${line%%|*} replicas=${line#*|}
    case $name in
      Deployment/*) [[ $available == True ]] || out+=("$name") ;;
      *) [[ ${replicas%/*} == "${replicas#*/}" && -n ${replicas%/*} ]] || out+=("$name") ;;
    esac
  done <<< "$rows"
  [[ -z ${out[*]} ]] || printf '%s Available' "${out[*]}"
}

# ---- Steps, in the order of renderer/render/bootstrap.py ------------------------------------------

# Step 1: preflight: tools, flags, rendered tree and secret files (no cloud call).
step_preflight() {
  local name value flag tool missing=()
  for name in WAIT_TIMEOUT APISERVER_TIMEOUT HEALTH_TIMEOUT POLL_INTERVAL; do
    value=${!name} flag=${name,,}
    [[ $value =~ ^[0-9]+$ ]] || usage_error "--${flag//_/-} must be a number of seconds, not '$value'"
  done
  check_cidr "$NODEPORT_SOURCE"
  for tool in exo kubectl helm; do
    if (( DRY_RUN )) && [[ $tool != kubectl ]]; then continue; fi
    command -v "$tool" > /dev/null || missing+=("$tool")
  done
  [[ -z ${missing[*]} ]] || usage_error "missing tools: ${missing[*]} (install them, then run again)"
  check_tree
  check_kubeconfig_path
  if check_secret_path "pull secret" --pull-secret "$PULL_SECRET_FILE" ",=\""; then check_pull_secret_file; fi
  if check_secret_path license --license "$LICENSE_FILE" ",\""; then check_license_file; fi
  if check_secret_path "git credential" --git-credential "$GIT_CREDENTIAL_FILE" ",=\""; then check_git_credential_file; fi
  say "preflight: ok"
}

check_cidr() {
  local octet
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]|[12][0-9]|3[0-2])$ ]] ||
    usage_error "--nodeport-source must be an IPv4 CIDR such as 203.0.113.0/24, not '$1'"
  for octet in "${BASH_REMATCH[@]:1:4}"; do
    (( 10#$octet <= 255 )) || usage_error "--nodeport-source has an octet above 255: '$1'"
  done
}

check_tree() {
  local file missing=()
  for file in \
    01-longhorn/namespace.yaml \
    02-storageclass/kustomization.yaml \
    03-tigera-operator/kustomization.yaml \
    04-tigera-prometheus-operator/kustomization.yaml \
    06-tigera-custom-resources/kustomization.yaml \
    08-bypass-policies/kustomization.yaml \
    09-tigera-enterprise-resources/kustomization.yaml \
    10-argocd/kustomization.yaml \
    argocd/argocd-cm-health.yaml argocd/apps/project.yaml argocd/root-application.yaml \
    ; do
    [[ -f $TREE/$file ]] || missing+=("$file")
  done
  [[ -z ${missing[*]} ]] ||
    usage_error "the rendered tree in $TREE lacks ${missing[*]}: run render again and commit the result"
}

# Also removes what an interrupted run could not: its temporary kubeconfig (a credential).
check_kubeconfig_path() {
  [[ $KUBECONFIG_FILE != *:* ]] ||
    usage_error "KUBECONFIG lists several files ($KUBECONFIG_FILE); pass --kubeconfig FILE for this cluster"
  [[ $KUBECONFIG_FILE == /* ]] || KUBECONFIG_FILE=$PWD/$KUBECONFIG_FILE
  case $(physical_path "$KUBECONFIG_FILE") in
    "$(physical_path "$(repo_root)")"/*)
      usage_error "the kubeconfig $KUBECONFIG_FILE would be inside the repository: pass --kubeconfig with a path outside it" ;;
  esac
  export KUBECONFIG=$KUBECONFIG_FILE
  if (( ! DRY_RUN )); then rm -f -- "$(dirname "$KUBECONFIG_FILE")/.$CLUSTER.kubeconfig."*; fi
}

# check_secret_path WHAT OPTION FILE CHARACTERS: true when the file is there to be checked.
# kubectl reads the file itself (content never printed) and refuses some characters in its
# path: --filename and --from-file are comma-separated lists (pflag StringSlice, read as CSV,
# so a `"` breaks it), and --from-file=KEY=PATH refuses a second `=`.
check_secret_path() {
  local what=$1 option=$2 file=$3 refused=$4
  if [[ -z $file ]]; then
    (( DRY_RUN )) || usage_error "no $what file: pass $option FILE"
    print_line '#' "a real run reads the $what from the file given with $option FILE"
    return 1
  fi
  # shellcheck disable=SC2254  # $refused is a bracket expression on purpose
  case $file in
    *[$refused]*)
      usage_error "the $what file path $file contains one of $refused, which kubectl refuses in $option paths: move or link the file to a path without them" ;;
  esac
  print_line '#' "a real run reads the $what from $file"
  if [[ ! -f $file || ! -r $file ]]; then
    (( DRY_RUN )) || usage_error "the $what file $file does not exist or is not readable"
    say "dry run: the $what file $file is not here; a real run needs it"
    return 1
  fi
  case $(physical_path "$file") in
    "$(physical_path "$(repo_root)")"/*) warn "the $what file $file is inside the repository; keep it out of git" ;;
  esac
}

check_pull_secret_file() {
  local shape
  shape=$(json_get "$AUTHS_TYPE" < "$PULL_SECRET_FILE" 2> /dev/null) || shape=""
  [[ $shape == "map[string]interface {}" ]] ||
    usage_error "the pull secret file $PULL_SECRET_FILE is not a docker config JSON with an \"auths\" object"
}

check_license_file() {
  local shape
  shape=$(kubectl patch --kubeconfig=/dev/null --local --type=merge --patch='{}' --filename="$LICENSE_FILE" \
    --output="$LICENSE_SHAPE" 2> /dev/null) || shape=""
  [[ $shape == "projectcalico.org/v3|LicenseKey|default|signed" ]] ||
    usage_error "the license file $LICENSE_FILE is not a projectcalico.org/v3 LicenseKey named default with a token and a certificate"
}

# Like ssh with a private key: a credential others can read is refused. Only its shape is read.
check_git_credential_file() {
  local mode lines
  mode=$(stat -c %a -- "$GIT_CREDENTIAL_FILE" 2> /dev/null || stat -f %Lp -- "$GIT_CREDENTIAL_FILE")
  (( (8#$mode & 8#077) == 0 )) ||
    usage_error "the git credential file $GIT_CREDENTIAL_FILE can be read by others (mode $mode): chmod 600 it"
  lines=$(tr -d '\r' < "$GIT_CREDENTIAL_FILE" | grep -c -v -e '^$' || true)
  [[ $lines == 1 ]] ||
    usage_error "the git credential file $GIT_CREDENTIAL_FILE must hold one token on one line (gitops.repoURL is https)"
}

# Step 2: security-group: security group ceosks-poc and the ingress rules the nodes need.
step_security_group() {
  local groups group rules rule protocol ports source description key target port_args
  groups=$(query exo compute security-group list -O json | json_get "$NAMES")
  if contains_line "$SECURITY_GROUP" "$groups"; then
    say "security group $SECURITY_GROUP exists"
  else
    run exo compute security-group create "$SECURITY_GROUP" --description "SKS nodepool $NODEPOOL of $CLUSTER"
  fi
  for group in "${NODEPOOL_SECURITY_GROUPS[@]}"; do
    if (( DRY_RUN )) || [[ $group == "$SECURITY_GROUP" ]] || contains_line "$group" "$groups"; then continue; fi
    stop "security group $group (nodepool.securityGroups) does not exist; create it, or remove it from values and re-render"
  done
  rules=$(query exo compute security-group show "$SECURITY_GROUP" -O json | json_get "$RULES")
  for rule in "${SECURITY_GROUP_RULES[@]}"; do
    read -r protocol ports source description <<< "$rule"
    if [[ $source == @self ]]; then
      target=(--security-group "$SECURITY_GROUP") source="SG:$SECURITY_GROUP"
    else
      target=(--network "$NODEPORT_SOURCE") source=$NODEPORT_SOURCE
    fi
    port_args=() key="$protocol - $source"
    if [[ $ports != - ]]; then
      port_args=(--port "$ports") key="$protocol ${ports%-*}-${ports#*-} $source"
    fi
    if contains_line "$key" "$rules"; then
      say "rule exists: $protocol $ports from $source ($description)"
      continue
    fi
    run exo compute security-group rule add "$SECURITY_GROUP" --flow ingress --protocol "$protocol" \
      "${port_args[@]}" "${target[@]}" --description "$description"
  done
}

# Step 3: cluster: SKS cluster ceosks-poc without CNI and without nodes.
# exo waits for the creation to finish; a run interrupted meanwhile finds the cluster still
# `creating` and waits for it here (SKS states: exoscale/egoscale v3.1.9 v3/schemas.go SKSClusterState).
step_cluster() {
  local clusters facts cni version state
  clusters=$(query exo compute sks list --zone "$ZONE" -O json | json_get "$NAMES")
  if ! contains_line "$CLUSTER" "$clusters"; then
    run exo compute sks create "$CLUSTER" --zone "$ZONE" --no-cni --nodepool-size 0 \
      --kubernetes-version "$KUBERNETES_VERSION" --service-level "$SERVICE_LEVEL"
    return 0
  fi
  facts=$(query exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get 'jsonpath={.data.cni}|{.data.version}|{.data.state}')
  cni=${facts%%|*} facts=${facts#*|}
  version=${facts%%|*} state=${facts#*|}
  [[ -z $cni ]] || stop "cluster $CLUSTER exists in $ZONE with CNI '$cni'. Calico Enterprise needs a cluster created with --no-cni: delete it (exo compute sks delete $CLUSTER --zone $ZONE) or choose another cluster.name"
  [[ $version == "$KUBERNETES_VERSION" ]] ||
    warn "cluster $CLUSTER runs Kubernetes $version, values say $KUBERNETES_VERSION; reused as it is"
  if [[ $state != running ]]; then
    poll_until "cluster $CLUSTER" "$WAIT_TIMEOUT" cluster_not_running ||
      die "cluster $CLUSTER is not running after ${WAIT_TIMEOUT}s (exo compute sks show $CLUSTER --zone $ZONE)"
  fi
  say "cluster $CLUSTER exists without CNI; reused"
}

cluster_not_running() {
  local state
  state=$(exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get 'jsonpath={.data.state}') || state=""
  [[ $state == running ]] || printf 'state running (now: %s)' "${state:-unknown}"
}

# Step 4: kubeconfig: admin kubeconfig, mode 0600, outside the repository.
# The kubeconfig is written to a temporary file beside its destination, then moved into place;
# the exit trap removes the temporary file whatever ends the run (EXIT, INT, TERM, HUP).
step_kubeconfig() {
  local endpoint server dir
  endpoint=$(query exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get 'jsonpath={.data.endpoint}')
  if (( ! DRY_RUN )) && [[ -s $KUBECONFIG_FILE ]]; then
    server=$(kubectl config view --minify --output='jsonpath={.clusters[0].cluster.server}' 2> /dev/null) || server=""
    [[ $server == "$endpoint" ]] ||
      stop "$KUBECONFIG_FILE is a kubeconfig for '$server', not for $CLUSTER ($endpoint); pass --kubeconfig with another path, or remove that file"
    print_cmd '?' kubectl get namespace default --output=name
    if kubectl get namespace default --output=name > /dev/null 2>&1; then
      say "kubeconfig $KUBECONFIG_FILE works; kept"
      return 0
    fi
    say "kubeconfig $KUBECONFIG_FILE no longer authenticates; fetching a new one"
  fi
  print_line + "$(shell_words exo compute sks kubeconfig "$CLUSTER" "$KUBECONFIG_USER" --zone "$ZONE" \
    -g "$KUBECONFIG_GROUP" -t "$KUBECONFIG_TTL") > $(shell_words "$KUBECONFIG_FILE")  # mode 0600, never printed"
  (( ! DRY_RUN )) || return 0
  dir=$(dirname "$KUBECONFIG_FILE")
  (umask 077 && mkdir -p -- "$dir")
  KUBECONFIG_TMP=$(umask 077 && mktemp "$dir/.$CLUSTER.kubeconfig.XXXXXX")
  exo compute sks kubeconfig "$CLUSTER" "$KUBECONFIG_USER" --zone "$ZONE" \
    -g "$KUBECONFIG_GROUP" -t "$KUBECONFIG_TTL" > "$KUBECONFIG_TMP" || die "exo compute sks kubeconfig failed"
  chmod 0600 "$KUBECONFIG_TMP"
  mv -f -- "$KUBECONFIG_TMP" "$KUBECONFIG_FILE"
  KUBECONFIG_TMP=""
  say "kubeconfig written to $KUBECONFIG_FILE (mode 0600)"
}

# Step 5: endpoint: real endpoint of the kubernetes Service against apiServer in values.
# The kubernetes Service's endpoint from its EndpointSlice (Endpoints are deprecated from
# Kubernetes 1.33); the EndpointSlice controller labels it kubernetes.io/service-name.
step_endpoint() {
  local found ip port
  found=$(query kubectl get endpointslices --namespace default --selector kubernetes.io/service-name=kubernetes \
    --output "$ENDPOINT" 2> /dev/null) || found=""
  (( ! DRY_RUN )) || return 0
  ip=${found%%|*} port=${found#*|}
  [[ $found == *"|"* && -n $ip && -n $port ]] ||
    die "the kubernetes Service has no endpoint yet; wait a minute and resume with --from endpoint"
  if [[ $port == "$ENDPOINT_PORT" && ( -z $ENDPOINT_IP || $ip == "$ENDPOINT_IP" ) ]]; then
    say "endpoint $ip:$port matches apiServer in values"
    return 0
  fi
  say "The kubernetes Service endpoint is $ip:$port, but values say apiServer.endpointPort: $ENDPOINT_PORT${ENDPOINT_IP:+, endpointIP: $ENDPOINT_IP}."
  say "With bypass.mode: $BYPASS_MODE the bypass policies would open the wrong endpoint, so nothing is applied."
  say "Change the values of cluster $CLUSTER to:"
  say "  apiServer:"
  say "    endpointPort: $port"
  [[ -z $ENDPOINT_IP ]] || say "    endpointIP: $ip"
  say "then re-render (render <the values files of $CLUSTER>), commit, and run: $SELF --from endpoint"
  stop "endpoint $ip:$port differs from values"
}

# Step 6: 01-longhorn: stage 1: Longhorn storage.
# A Helm release, as in the seed: Flux's HelmRelease adopts it, Argo CD renders the same chart.
# Upgraded whenever chart, version or values differ from the rendered ones.
stage_01_longhorn() {
  apply_tree_file 01-longhorn/namespace.yaml
  helm_release longhorn longhorn https://charts.longhorn.io 1.7.0 \
    longhorn-system '{"defaultSettings":{"defaultReplicaCount":2},"persistence":{"defaultClassReplicaCount":2},"preUpgradeChecker":{"jobEnabled":false}}'
}

# Step 7: 02-storageclass: stage 2: StorageClass tigera-elasticsearch.
stage_02_storageclass() {
  apply_stage 02-storageclass
}

# Step 8: 03-tigera-operator: stage 3: Tigera operator.
stage_03_tigera_operator() {
  apply_stage 03-tigera-operator
}

# Step 9: 04-tigera-prometheus-operator: stage 4: Tigera Prometheus operator.
stage_04_tigera_prometheus_operator() {
  apply_stage 04-tigera-prometheus-operator
}

# Step 10: nodepool: nodepool ceosks-poc-worker (2 nodes).
# Runs after 03-tigera-operator (crds:operator.tigera.io).
# Nodes join when the nodepool is running; they turn Ready once Calico runs on them (the
# `nodes` fact, waited for by the steps that need it).
step_nodepool() {
  local pools
  pools=$(query exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get "$NODEPOOLS")
  if contains_line "$NODEPOOL" "$pools"; then
    say "nodepool $NODEPOOL exists"
    return 0
  fi
  run exo compute sks nodepool add "$CLUSTER" "$NODEPOOL" --zone "$ZONE" "${NODEPOOL_ARGS[@]}"
}

# Step 11: 05-pull-secrets: stage 5: Pull secret tigera-pull-secret.
# Runs after 03-tigera-operator (namespace:tigera-operator).
# kubectl builds the Secret from the file and pipes it to kubectl, so its content never
# reaches an argument, the terminal or a log (kubectl diff's own temporary copies land in
# $WORK, which the exit trap removes).
apply_pull_secret() {
  local build=(kubectl create secret generic tigera-pull-secret --kubeconfig=/dev/null
    --type=kubernetes.io/dockerconfigjson --namespace "$1" "--from-file=.dockerconfigjson=$PULL_SECRET_FILE"
    --dry-run=client --output=yaml)
  print_line '?' "$(shell_words "${build[@]}") | $(shell_words kubectl diff "${SSA[@]}" --filename=-)"
  if (( ! DRY_RUN )) && "${build[@]}" | kubectl diff "${SSA[@]}" --filename=- > /dev/null 2>&1; then
    say "tigera-pull-secret in $1: up to date"
    return 0
  fi
  print_line + "$(shell_words "${build[@]}") | $(shell_words kubectl apply "${SSA[@]}" --filename=-)"
  if (( ! DRY_RUN )); then "${build[@]}" | kubectl apply "${SSA[@]}" --filename=-; fi
}

stage_05_pull_secrets() {
  apply_pull_secret tigera-operator
  apply_pull_secret tigera-prometheus
}

# Step 12: 06-tigera-custom-resources: stage 6: Tigera custom resources (no license needed).
# Runs after 00-nodepool, 05-pull-secrets (crds:operator.tigera.io).
stage_06_tigera_custom_resources() {
  require_only_default installations.operator.tigera.io Installation
  require_only_default apiservers.operator.tigera.io APIServer
  apply_stage 06-tigera-custom-resources
}

# Step 13: 07-license: stage 7: Calico Enterprise license.
# Runs after 06-tigera-custom-resources (api:projectcalico.org/v3).
stage_07_license() {
  apply_objects "LicenseKey default" --filename "$LICENSE_FILE"
}

# Step 14: 10-argocd: stage 10: Argo CD v3.5.1.
# Runs after 06-tigera-custom-resources (calico).
stage_10_argocd() {
  apply_stage 10-argocd
}

# Step 15: 08-bypass-policies: stage 8: API server endpoint bypass policy.
# Runs after 07-license (api:projectcalico.org/v3, tier:operator).
stage_08_bypass_policies() {
  apply_stage 08-bypass-policies
}

# Step 16: 09-tigera-enterprise-resources: stage 9: Tigera custom resources that need the license.
# Runs after 01-longhorn, 02-storageclass, 04-tigera-prometheus-operator, 08-bypass-policies (crds:operator.tigera.io).
stage_09_tigera_enterprise_resources() {
  apply_stage 09-tigera-enterprise-resources
}

# Step 17: health: wait until every tigerastatus is Available.
# ---- Health: every tigerastatus Available --------------------------------------------------

# The components not Available: each tigerastatus whose Available condition is not "True"
# (absent counts as not Available), and each expected one the operator has not written yet.
# tigera/operator v1.34.5 pkg/controller/status/status.go: a controller that sets itself
# Degraded before it is ready to monitor writes a Degraded condition only, with no Available;
# once ready it writes Available (True only with no failing, progressing or degraded object),
# Progressing and Degraded, each with a reason and a message that may span several lines.
unhealthy() {
  local rows line name seen=() out=()
  if ! rows=$(kubectl get tigerastatus --output "$STATUS_ROWS" 2> /dev/null); then
    printf 'tigerastatus (kubectl get tigerastatus fails)\n'
    return 0
  fi
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    name=${line%%|*}
    seen+=("$name")
    [[ ${line#*|} == True ]] || out+=("$name")
  done <<< "$rows"
  for name in "${EXPECTED_TIGERASTATUS[@]}"; do
    contains_line "$name" "$(printf '%s\n' "${seen[@]}")" || out+=("$name")
  done
  [[ -z ${out[*]} ]] || printf '%s\n' "${out[*]}"
}

# One field per query, so no separator can be confused with the text of a message.
condition() {
  kubectl get tigerastatus "$1" --output "jsonpath={.status.conditions[?(@.type==\"$2\")].$3}" 2> /dev/null || true
}

describe_unhealthy() {
  local name names available degraded message
  read -ra names <<< "$(unhealthy)"
  for name in "${names[@]}"; do
    if ! kubectl get tigerastatus "$name" --output=name > /dev/null 2>&1; then
      say "  - $name: no tigerastatus yet (the operator has not reconciled it)"
      continue
    fi
    available=$(condition "$name" Available status)
    degraded=$(condition "$name" Degraded status)
    if [[ $degraded == True ]]; then
      message=$(condition "$name" Degraded message)
      say "  - $name: Degraded ($(condition "$name" Degraded reason)): ${message//$'\n'/$'\n'      }"
    else
      message=$(condition "$name" Progressing message)
      say "  - $name: not Available (Available: ${available:-absent}; Progressing: $(condition "$name" Progressing reason)): ${message//$'\n'/$'\n'      }"
    fi
  done
}

step_health() {
  say "waiting up to ${HEALTH_TIMEOUT}s until every tigerastatus is Available: ${EXPECTED_TIGERASTATUS[*]}"
  print_cmd '?' kubectl get tigerastatus --output "$STATUS_ROWS"
  (( ! DRY_RUN )) || return 0
  if ! poll_until "Calico Enterprise" "$HEALTH_TIMEOUT" unhealthy; then
    say "Components not Available after ${HEALTH_TIMEOUT}s:"
    describe_unhealthy
    die "Calico Enterprise is not healthy; resume with --from health once it is"
  fi
  say "every tigerastatus is Available"
}

# Step 18: handover: repository credential from a file, then hand the applied stages over to Argo CD.
readonly REPO=https://git.example.com/platform/sks-gitops.git
# The handover is done once the engine has read the repository: a wrong or missing credential
# stops here, not silently later.
wait_repository() {
  print_line '?' "wait up to ${WAIT_TIMEOUT}s until $1 reads $REPO"
  (( ! DRY_RUN )) || return 0
  poll_until "$1" "$WAIT_TIMEOUT" "$2" ||
    die "$1 cannot read $REPO with the credential from $GIT_CREDENTIAL_FILE; fix it, then resume with --from handover"
}

step_handover() {
  handover_argocd
}

# The engine's repository Secret, built by kubectl from the credential file and piped to kubectl:
# the credential never reaches an argument, the terminal or a log. A token loses its line ends
# (`echo TOKEN > file` adds one, which git would send as part of the password).
readonly TOKEN_INPUT=/dev/stdin

# git_secret_commands ENGINE: sets CREATE and LABEL, the two kubectl commands that build the Secret.
git_secret_commands() {
  local engine=$1
  CREATE=(kubectl create secret generic "${GIT_SECRET_NAME[$engine]}" --kubeconfig=/dev/null
    --namespace "${GIT_SECRET_NAMESPACE[$engine]}")
  CREATE+=("--from-literal=username=$GIT_USERNAME" "--from-file=password=$TOKEN_INPUT")
  [[ $engine != argocd ]] || CREATE+=(--from-literal=type=git "--from-literal=url=$REPO_URL")
  CREATE+=(--dry-run=client --output=yaml)
  LABEL=(kubectl patch --kubeconfig=/dev/null --local --type=merge "--patch=${GIT_SECRET_LABELS[$engine]}"
    --filename=- --output=yaml)
}

git_secret() {
  tr -d '\r\n' < "$GIT_CREDENTIAL_FILE" | "${CREATE[@]}" | "${LABEL[@]}"
}

# apply_git_credential ENGINE [KUBECTL FLAG...]: the flags say which cluster (the hub, in hub mode).
apply_git_credential() {
  local CREATE LABEL shown target=("${@:2}")
  git_secret_commands "$1"
  shown="tr -d '\r\n' < $(shell_words "$GIT_CREDENTIAL_FILE") | $(shell_words "${CREATE[@]}") | $(shell_words "${LABEL[@]}")"
  print_line '?' "$shown | $(shell_words kubectl diff "${SSA[@]}" --filename=- "${target[@]}")"
  if (( ! DRY_RUN )) && git_secret | kubectl diff "${SSA[@]}" --filename=- "${target[@]}" > /dev/null 2>&1; then
    say "repository Secret ${GIT_SECRET_NAMESPACE[$1]}/${GIT_SECRET_NAME[$1]}: up to date"
    return 0
  fi
  print_line + "$shown | $(shell_words kubectl apply "${SSA[@]}" --filename=- "${target[@]}")"
  if (( ! DRY_RUN )); then git_secret | kubectl apply "${SSA[@]}" --filename=- "${target[@]}"; fi
}

# Argo CD runs from its stage, argocd-cm health checks included; then the repository credential,
# the AppProject the root Application belongs to, and the root Application (the root syncs the
# engine's own Application too, so Argo CD manages itself from here on).
handover_argocd() {
  apply_git_credential argocd
  apply_objects "Argo CD AppProject" --filename "$TREE/argocd/apps/project.yaml"
  apply_objects "Argo CD root Application" --filename "$TREE/argocd/root-application.yaml"
  wait_repository "Argo CD" root_compared
}

# Argo CD compared the root with Git: it read the repository (sync status Unknown: it could not).
root_compared() {
  local status
  status=$(kubectl get applications.argoproj.io "$CLUSTER-root" --namespace argocd     --output 'jsonpath={.status.sync.status}' 2> /dev/null) || status=""
  [[ $status == Synced || $status == OutOfSync ]] ||
    printf 'the root Application compared with %s (sync status now: %s)' "$REPO" "${status:-none}"
}

# ---- Main ----------------------------------------------------------------------------------

usage() {
  local entry name fn description needs index=0
  cat << EOF
Usage: $SELF [options]

Bootstraps SKS cluster $CLUSTER in $ZONE with Calico Enterprise, step by step as the seed
runbook does, then hands the applied stages over to the GitOps engine. Every step checks
the current state first and skips what is done, so the script can run again at any time.
Before a step runs, the script waits for the facts it needs (listed under it).

Steps (preflight always runs; --from resumes at a later one):
EOF
  for entry in "${STEPS[@]}"; do
    IFS='|' read -r name fn description needs <<< "$entry"
    index=$((index + 1))
    printf '  %2d  %-30s %s\n' "$index" "$name" "$description"
    [[ -z $needs ]] || printf '      %-30s waits for: %s\n' "" "$needs"
  done
  cat << EOF

Options (environment variable in brackets):
  --pull-secret FILE      docker config JSON for tigera-pull-secret  [BOOTSTRAP_PULL_SECRET]
  --license FILE          LicenseKey named default (YAML or JSON)    [BOOTSTRAP_LICENSE]
  --git-credential FILE   token the engine reads the Git repository with, mode 0600
                          [BOOTSTRAP_GIT_CREDENTIAL]
  --kubeconfig FILE       admin kubeconfig, written with mode 0600 outside the repository
                          [KUBECONFIG; default ~/.kube/$CLUSTER.config]
  --nodeport-source CIDR  source allowed to NodePorts 30000-32767    [BOOTSTRAP_NODEPORT_SOURCE; 0.0.0.0/0]
  --wait-timeout S        CRDs, tiers, namespaces, secrets, license  [BOOTSTRAP_WAIT_TIMEOUT; 300]
  --apiserver-timeout S   nodes Ready, Tigera API server Available   [BOOTSTRAP_APISERVER_TIMEOUT; 1800]
  --health-timeout S      every tigerastatus Available               [BOOTSTRAP_HEALTH_TIMEOUT; 2700]
  --poll-interval S       seconds between two polls of a wait        [BOOTSTRAP_POLL_INTERVAL; 15]
  --from STEP             resume at STEP (a name above)
  --dry-run               print every command (+ changes, ? reads and waits) and run none;
                          secret files are checked when present, never printed
  -h, --help              this help

Exit codes: 0 done; 1 a command failed or a wait timed out (resume with --from STEP);
2 usage or preflight error (no cloud call made); 3 stopped, a decision is needed (see message).
Needs exo (configured), kubectl, helm v3, bash 4.4+ and coreutils; kubectl also parses
every JSON answer, so neither jq nor python is needed.
EOF
}

parse_args() {
  local option value
  while (( $# )); do
    option=$1 value=""
    case $option in
      --dry-run | -h | --help) shift ;;
      --*=*) value=${option#*=} option=${option%%=*}; shift ;;
      --*) (( $# >= 2 )) || usage_error "$option needs a value (see --help)"; value=$2; shift 2 ;;
      *) usage_error "unexpected argument '$option' (see --help)" ;;
    esac
    case $option in
      --pull-secret) PULL_SECRET_FILE=$value ;;
      --license) LICENSE_FILE=$value ;;
      --git-credential) GIT_CREDENTIAL_FILE=$value ;;
      --kubeconfig) KUBECONFIG_FILE=$value ;;
      --nodeport-source) NODEPORT_SOURCE=$value ;;
      --wait-timeout) WAIT_TIMEOUT=$value ;;
      --apiserver-timeout) APISERVER_TIMEOUT=$value ;;
      --health-timeout) HEALTH_TIMEOUT=$value ;;
      --poll-interval) POLL_INTERVAL=$value ;;
      --from) FROM=$value ;;
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown option $option (see --help)" ;;
    esac
  done
}

# Runs on every exit, INT, TERM and HUP included: nothing that may hold a credential stays behind. A second
# Ctrl-C (or `timeout` forwarding SIGINT) during the cleanup is ignored, by it and by the rm it starts (an
# ignored signal stays ignored in a child), so the cleanup always finishes.
on_exit() {
  local status=$?
  trap '' INT TERM HUP PIPE
  if [[ -n $KUBECONFIG_TMP ]]; then rm -f -- "$KUBECONFIG_TMP"; fi
  if [[ -n $WORK && $WORK != "$ORIGINAL_TMPDIR/sks-bootstrap-dry-run" ]]; then rm -rf -- "$WORK"; fi
  if (( status != 0 && ! DELIBERATE_EXIT )); then
    [[ -z $CURRENT_STEP ]] ||
      say "bootstrap: step $CURRENT_STEP failed. Fix the cause, then resume with the same options and --from $CURRENT_STEP"
    exit "$EXIT_FAILED"
  fi
}

# The first INT, TERM or HUP: from here on they are ignored, so the exit trap cannot be cut short.
interrupted() {
  trap '' INT TERM HUP PIPE
  DELIBERATE_EXIT=1
  say "bootstrap: interrupted"
  exit "$1"
}

main() {
  local entry name fn description needs fact facts names=() index=0 total=0 reached=1
  parse_args "$@"
  for entry in "${STEPS[@]}"; do
    names+=("${entry%%|*}")
    total=$((total + 1))
  done
  if [[ -n $FROM ]]; then
    contains_line "$FROM" "$(printf '%s\n' "${names[@]}")" ||
      usage_error "--from $FROM: no such step; the steps are: ${names[*]}"
    reached=0
  fi
  trap on_exit EXIT
  trap 'interrupted 130' INT TERM
  trap 'interrupted 129' HUP
  if (( DRY_RUN )); then
    exec 3>&1
    WORK=$ORIGINAL_TMPDIR/sks-bootstrap-dry-run
    say "dry run: the commands are printed, none is run"
  else
    exec 3>&2
    WORK=$(mktemp -d "$ORIGINAL_TMPDIR/sks-bootstrap.XXXXXX")
    # Every tool's temporary files (kubectl diff copies the Secrets it compares) land in $WORK.
    export TMPDIR=$WORK
  fi
  for entry in "${STEPS[@]}"; do
    IFS='|' read -r name fn description needs <<< "$entry"
    index=$((index + 1))
    [[ $name != "$FROM" ]] || reached=1
    if [[ $name != preflight ]] && (( ! reached )); then continue; fi
    CURRENT_STEP=$name
    say "==> [$index/${total}] $name: $description"
    read -ra facts <<< "$needs"
    for fact in "${facts[@]}"; do need "$fact"; done
    "$fn"
  done
  CURRENT_STEP=""
  say "bootstrap of $CLUSTER: done"
}

main "$@"
