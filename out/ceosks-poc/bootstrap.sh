#!/usr/bin/env bash
# Bootstrap of SKS cluster ceosks-poc in at-vie-1: the seed runbook as idempotent steps.
# Rendered by sks-gitops from values; edit values/ (or templates/bootstrap.sh.j2), not this file.
# ./bootstrap.sh --help lists the steps, options and exit codes.
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

# The steps in order, as name|function|description. --from takes a name; --help lists them.
readonly STEPS=(
  'preflight|step_preflight|tools, flags, rendered tree and secret files (no cloud call)'
  'security-group|step_security_group|security group ceosks-poc and the ingress rules the nodes need'
  'cluster|step_cluster|SKS cluster ceosks-poc without CNI and without nodes'
  'kubeconfig|step_kubeconfig|admin kubeconfig, mode 0600, outside the repository'
  'endpoint|step_endpoint|real endpoint of the kubernetes Service against apiServer in values'
  '01-longhorn|stage_01_longhorn|stage 1: Longhorn storage'
  '02-storageclass|stage_02_storageclass|stage 2: StorageClass tigera-elasticsearch'
  '03-tigera-operator|stage_03_tigera_operator|stage 3: Tigera operator'
  '04-tigera-prometheus-operator|stage_04_tigera_prometheus_operator|stage 4: Tigera Prometheus operator'
  'nodepool|step_nodepool|nodepool ceosks-poc-worker (2 nodes), once the operator'"'"'s CRDs exist as in the seed'
  '05-pull-secrets|stage_05_pull_secrets|stage 5: Pull secret tigera-pull-secret'
  '06-tigera-custom-resources|stage_06_tigera_custom_resources|stage 6: Tigera custom resources (no license needed)'
  '07-license|stage_07_license|stage 7: Calico Enterprise license'
  '08-bypass-policies|stage_08_bypass_policies|stage 8: API server endpoint bypass policy'
  '09-tigera-enterprise-resources|stage_09_tigera_enterprise_resources|stage 9: Tigera custom resources that need the license'
  'health|step_health|wait until every tigerastatus is Available'
  'handover|step_handover|hand the applied stages over to Argo CD'
)

readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_STOPPED=3
readonly SSA=(--server-side --force-conflicts "--field-manager=$FIELD_MANAGER")
readonly NAMES='jsonpath={range .data[*]}{.name}{"\n"}{end}'
readonly RULES='jsonpath={range .data.ingress_rules[*]}{.protocol} {.start_port}-{.end_port} {.network}{.security_group}{"\n"}{end}'
readonly NODEPOOLS='jsonpath={range .data.nodepools[*]}{.name}{"\n"}{end}'
readonly ENDPOINT='jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}'
readonly APISERVER_AVAILABLE='jsonpath={.status.conditions[?(@.type=="Available")].status}'
readonly TIGERASTATUS_ROWS='jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.conditions[?(@.type=="Available")].status}{"\t"}{.status.conditions[?(@.type=="Degraded")].status}{"\t"}{.status.conditions[?(@.type=="Degraded")].reason}{"\t"}{.status.conditions[?(@.type=="Degraded")].message}{"\t"}{.status.conditions[?(@.type=="Progressing")].reason}{"\t"}{.status.conditions[?(@.type=="Progressing")].message}{"\n"}{end}'

# Prints only the Go type of .auths (never a value): a docker config has a non-empty object.
readonly AUTHS_TYPE='go-template={{if eq (printf "%T" .data) "map[string]interface {}"}}{{with index .data "auths"}}{{printf "%T" .}}{{end}}{{end}}'
# Prints kind, name and whether token and certificate are set (never their values).
readonly LICENSE_SHAPE='go-template={{.apiVersion}}|{{.kind}}|{{with .metadata}}{{.name}}{{end}}|{{with .spec}}{{if and .token .certificate}}signed{{end}}{{end}}'

TREE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
readonly TREE SELF="${BASH_SOURCE[0]}"
PULL_SECRET_FILE=${BOOTSTRAP_PULL_SECRET:-}
LICENSE_FILE=${BOOTSTRAP_LICENSE:-}
KUBECONFIG_FILE=${KUBECONFIG:-${HOME:?}/.kube/$CLUSTER.config}
NODEPORT_SOURCE=${BOOTSTRAP_NODEPORT_SOURCE:-0.0.0.0/0}
WAIT_TIMEOUT=${BOOTSTRAP_WAIT_TIMEOUT:-300}
APISERVER_TIMEOUT=${BOOTSTRAP_APISERVER_TIMEOUT:-1800}
HEALTH_TIMEOUT=${BOOTSTRAP_HEALTH_TIMEOUT:-2700}
POLL_INTERVAL=${BOOTSTRAP_POLL_INTERVAL:-15}
FROM=""
DRY_RUN=0
WORK=""
CURRENT_STEP=""
DELIBERATE_EXIT=0
READY_CRDS=0
READY_APISERVER=0

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

# "+" marks a command that changes something, "?" one that only reads or waits. Lines go to
# fd 3: with --dry-run the script's stdout (the plan, nothing runs), otherwise stderr (a log).
# Never to fd 1, which may be the pipe of a command substitution.
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

# ---- Preflight -----------------------------------------------------------------------------

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
  check_pull_secret_file
  check_license_file
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
    argocd/argocd-cm-health.yaml argocd/apps/project.yaml argocd/root-application.yaml \
    ; do
    [[ -f $TREE/$file ]] || missing+=("$file")
  done
  [[ -z ${missing[*]} ]] ||
    usage_error "the rendered tree in $TREE lacks ${missing[*]}: run render again and commit the result"
}

check_kubeconfig_path() {
  [[ $KUBECONFIG_FILE != *:* ]] ||
    usage_error "KUBECONFIG lists several files ($KUBECONFIG_FILE); pass --kubeconfig FILE for this cluster"
  [[ $KUBECONFIG_FILE == /* ]] || KUBECONFIG_FILE=$PWD/$KUBECONFIG_FILE
  case $(physical_path "$KUBECONFIG_FILE") in
    "$(physical_path "$(repo_root)")"/*)
      usage_error "the kubeconfig $KUBECONFIG_FILE would be inside the repository: pass --kubeconfig with a path outside it" ;;
  esac
  export KUBECONFIG=$KUBECONFIG_FILE
}

# Secret files are read by kubectl only, from stdin or a path; their content is never printed.
check_secret_path() {
  local what=$1 option=$2 file=$3
  [[ -n $file ]] || usage_error "no $what file: pass $option FILE"
  [[ -f $file && -r $file ]] || usage_error "the $what file $file does not exist or is not readable"
  case $(physical_path "$file") in
    "$(physical_path "$(repo_root)")"/*) warn "the $what file $file is inside the repository; keep it out of git" ;;
  esac
}

check_pull_secret_file() {
  local shape
  check_secret_path "pull secret" --pull-secret "$PULL_SECRET_FILE"
  shape=$(json_get "$AUTHS_TYPE" < "$PULL_SECRET_FILE" 2> /dev/null) || shape=""
  [[ $shape == "map[string]interface {}" ]] ||
    usage_error "the pull secret file $PULL_SECRET_FILE is not a docker config JSON with an \"auths\" object"
}

check_license_file() {
  local shape
  check_secret_path license --license "$LICENSE_FILE"
  shape=$(kubectl patch --kubeconfig=/dev/null --local --type=merge --patch='{}' --filename="$LICENSE_FILE" \
    --output="$LICENSE_SHAPE" 2> /dev/null) || shape=""
  [[ $shape == "projectcalico.org/v3|LicenseKey|default|signed" ]] ||
    usage_error "the license file $LICENSE_FILE is not a projectcalico.org/v3 LicenseKey named default with a token and a certificate"
}

# ---- Exoscale ------------------------------------------------------------------------------

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

step_cluster() {
  local clusters facts cni version
  clusters=$(query exo compute sks list --zone "$ZONE" -O json | json_get "$NAMES")
  if ! contains_line "$CLUSTER" "$clusters"; then
    run exo compute sks create "$CLUSTER" --zone "$ZONE" --no-cni --nodepool-size 0 \
      --kubernetes-version "$KUBERNETES_VERSION" --service-level "$SERVICE_LEVEL"
    return 0
  fi
  facts=$(query exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get 'jsonpath={.data.cni}|{.data.version}')
  IFS='|' read -r cni version <<< "$facts"
  [[ -z $cni ]] || stop "cluster $CLUSTER exists in $ZONE with CNI '$cni'. Calico Enterprise needs a cluster created with --no-cni: delete it (exo compute sks delete $CLUSTER --zone $ZONE) or choose another cluster.name"
  [[ $version == "$KUBERNETES_VERSION" ]] ||
    warn "cluster $CLUSTER runs Kubernetes $version, values say $KUBERNETES_VERSION; reused as it is"
  say "cluster $CLUSTER exists without CNI; reused"
}

step_kubeconfig() {
  local endpoint server dir tmp
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
  tmp=$(umask 077 && mktemp "$dir/.$CLUSTER.kubeconfig.XXXXXX")
  if ! exo compute sks kubeconfig "$CLUSTER" "$KUBECONFIG_USER" --zone "$ZONE" \
    -g "$KUBECONFIG_GROUP" -t "$KUBECONFIG_TTL" > "$tmp"; then
    rm -f -- "$tmp"
    die "exo compute sks kubeconfig failed"
  fi
  chmod 0600 "$tmp"
  mv -f -- "$tmp" "$KUBECONFIG_FILE"
  say "kubeconfig written to $KUBECONFIG_FILE (mode 0600)"
}

step_endpoint() {
  local found ip port
  found=$(query kubectl get endpoints kubernetes --namespace default --output "$ENDPOINT")
  (( ! DRY_RUN )) || return 0
  read -r ip port <<< "$found"
  [[ -n $ip && -n $port ]] ||
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

step_nodepool() {
  local pools
  pools=$(query exo compute sks show "$CLUSTER" --zone "$ZONE" -O json | json_get "$NODEPOOLS")
  if contains_line "$NODEPOOL" "$pools"; then
    say "nodepool $NODEPOOL exists"
    return 0
  fi
  run exo compute sks nodepool add "$CLUSTER" "$NODEPOOL" --zone "$ZONE" "${NODEPOOL_ARGS[@]}"
}

# ---- Kubernetes ----------------------------------------------------------------------------

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

# Builds a stage's Kustomize root once and applies exactly what was built.
apply_stage() {
  local built=$WORK/$1.yaml
  print_line '?' "$(shell_words kubectl kustomize "$TREE/$1") > $(shell_words "$built")"
  if (( ! DRY_RUN )); then kubectl kustomize "$TREE/$1" > "$built"; fi
  apply_objects "stage $1" --filename "$built"
}

# A Helm release, as in the seed: Flux's HelmRelease adopts it, Argo CD renders the same chart.
helm_release() {
  local release=$1 chart=$2 repo=$3 version=$4 namespace=$5 values=$6 found
  found=$(query helm list --namespace "$namespace" --all --filter "^$release\$" --output json |
    json_get 'jsonpath={range .data[*]}{.name} {.status} {.chart}{"\n"}{end}')
  if contains_line "$release deployed $chart-$version" "$found"; then
    say "helm release $release: $chart $version is deployed"
    return 0
  fi
  print_line '#' "$WORK/$release-values.json: $values"
  if (( ! DRY_RUN )); then printf '%s\n' "$values" > "$WORK/$release-values.json"; fi
  run helm upgrade --install "$release" "$chart" --repo "$repo" --version "$version" \
    --namespace "$namespace" --values "$WORK/$release-values.json"
}

# kubectl builds the Secret from the file and pipes it to kubectl, so its content never
# reaches an argument, the terminal or a log.
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

require_crd() {
  print_cmd '?' kubectl get crd "$1" --output=name
  (( DRY_RUN )) || kubectl get crd "$1" --output=name > /dev/null 2>&1 ||
    stop "$2 is not installed in the cluster (no CustomResourceDefinition $1); install it, then resume with --from $CURRENT_STEP"
}

apiserver_missing() {
  local available
  available=$(kubectl get tigerastatus apiserver --output "$APISERVER_AVAILABLE" 2> /dev/null) || available=""
  [[ $available == True ]] || printf 'tigerastatus apiserver Available (now: %s)' "${available:-absent}"
}

# Waits for what a stage requires: `crds` (every CRD Established) or `tigera-apiserver` (the
# Tigera API server Available, which serves projectcalico.org/v3).
wait_ready() {
  case $1 in
    crds)
      (( ! READY_CRDS )) || return 0
      say "waiting up to ${WAIT_TIMEOUT}s for every CustomResourceDefinition to be Established"
      print_cmd '?' kubectl wait --for=condition=Established crd --all "--timeout=${WAIT_TIMEOUT}s"
      if (( ! DRY_RUN )); then
        kubectl wait --for=condition=Established crd --all "--timeout=${WAIT_TIMEOUT}s" > /dev/null
      fi
      READY_CRDS=1
      ;;
    tigera-apiserver)
      (( ! READY_APISERVER )) || return 0
      say "waiting up to ${APISERVER_TIMEOUT}s for the Tigera API server (nodes must join first)"
      print_cmd '?' kubectl get tigerastatus apiserver --output "$APISERVER_AVAILABLE"
      if (( ! DRY_RUN )); then
        poll_until "Tigera API server" "$APISERVER_TIMEOUT" apiserver_missing ||
          die "the Tigera API server is not Available after ${APISERVER_TIMEOUT}s (kubectl get tigerastatus apiserver -o yaml)"
      fi
      READY_APISERVER=1
      ;;
    *) die "unknown readiness '$1'" ;;
  esac
}

tier_missing() {
  kubectl get tiers.projectcalico.org "$1" --output=name > /dev/null 2>&1 || printf 'tier %s' "$1"
}

# The operator's tiers controller creates the tier up to 30 s after it first sees the license
# (tigera/operator v1.34.5 pkg/controller/tiers/tiers_controller.go); a policy in a missing tier is refused.
wait_tier() {
  print_cmd '?' kubectl get tiers.projectcalico.org "$1" --output=name
  (( ! DRY_RUN )) || return 0
  poll_until "Tigera operator" "$WAIT_TIMEOUT" tier_missing "$1" ||
    die "tier $1 does not exist; see kubectl get tigerastatus tiers -o yaml"
}

# Waits for one fact of the rollout model (renderer/rollout/facts.py) that a stage needs.
wait_fact() {
  case $1 in
    crds:external-secrets.io) ;;
    crds:*) wait_ready crds ;;
    api:projectcalico.org/v3) wait_ready tigera-apiserver ;;
    tier:operator) wait_tier allow-tigera ;;
    tier:*) wait_tier "${1#tier:}" ;;
    namespace:*) wait_namespaces "${1#namespace:}" ;;
    *) die "no wait for '$1'" ;;
  esac
}

namespaces_missing() {
  local namespace missing=()
  for namespace in "$@"; do
    kubectl get namespace "$namespace" --output=name > /dev/null 2>&1 || missing+=("$namespace")
  done
  [[ -z ${missing[*]} ]] || printf 'namespaces %s\n' "${missing[*]}"
}

# The Tigera operator creates the namespaces of its components (calico-system,
# tigera-eck-operator, ...) once nodes run it; policies for them wait until they exist.
wait_namespaces() {
  print_cmd '?' kubectl get namespace "$@" --output=name
  (( ! DRY_RUN )) || return 0
  poll_until "Tigera operator" "$WAIT_TIMEOUT" namespaces_missing "$@" ||
    die "the namespaces $* do not exist; is the Tigera operator running? (kubectl get tigerastatus)"
}

# ---- Stages, in the order of the rollout model (renderer/rollout/order.py) -----------------------

# Stage 1: Longhorn storage (git delivery, applied here as a Helm release).
stage_01_longhorn() {
  apply_tree_file 01-longhorn/namespace.yaml
  helm_release longhorn longhorn https://charts.longhorn.io 1.7.0 \
    longhorn-system '{"defaultSettings": {"defaultReplicaCount": 2}, "persistence": {"defaultClassReplicaCount": 2}, "preUpgradeChecker": {"jobEnabled": false}}'
}

# Stage 2: StorageClass tigera-elasticsearch (git delivery).
stage_02_storageclass() {
  apply_stage 02-storageclass
}

# Stage 3: Tigera operator (git delivery).
stage_03_tigera_operator() {
  apply_stage 03-tigera-operator
}

# Stage 4: Tigera Prometheus operator (git delivery).
stage_04_tigera_prometheus_operator() {
  apply_stage 04-tigera-prometheus-operator
}

# Stage 5: Pull secret tigera-pull-secret (bootstrap delivery; needs namespace:tigera-operator).
stage_05_pull_secrets() {
  wait_fact namespace:tigera-operator
  apply_pull_secret tigera-operator
  apply_pull_secret tigera-prometheus
}

# Stage 6: Tigera custom resources (no license needed) (git delivery; needs crds:operator.tigera.io).
stage_06_tigera_custom_resources() {
  wait_fact crds:operator.tigera.io
  apply_stage 06-tigera-custom-resources
}

# Stage 7: Calico Enterprise license (bootstrap delivery; needs api:projectcalico.org/v3).
stage_07_license() {
  wait_fact api:projectcalico.org/v3
  apply_objects "LicenseKey default" --filename "$LICENSE_FILE"
}

# Stage 8: API server endpoint bypass policy (git delivery; needs api:projectcalico.org/v3, tier:operator).
stage_08_bypass_policies() {
  wait_fact api:projectcalico.org/v3
  wait_fact tier:operator
  apply_stage 08-bypass-policies
}

# Stage 9: Tigera custom resources that need the license (git delivery; needs crds:operator.tigera.io).
stage_09_tigera_enterprise_resources() {
  wait_fact crds:operator.tigera.io
  apply_stage 09-tigera-enterprise-resources
}

# ---- Health and handover -------------------------------------------------------------------

# Prints the tigerastatus components not yet Available: their names (`names`), or one line
# each with the reason and message of their conditions (`details`).
unhealthy() {
  local rows name available degraded reason message progressing_reason progressing_message out=()
  if ! rows=$(kubectl get tigerastatus --output "$TIGERASTATUS_ROWS" 2> /dev/null); then
    printf 'tigerastatus (kubectl get tigerastatus fails)\n'
    return 0
  fi
  if [[ -z $rows ]]; then
    printf 'tigerastatus objects (none yet)\n'
    return 0
  fi
  while IFS=$'\t' read -r name available degraded reason message progressing_reason progressing_message; do
    [[ -n $name && $available != True ]] || continue
    if [[ $1 == names ]]; then
      out+=("$name")
    elif [[ $degraded == True ]]; then
      out+=("$name (degraded: ${reason:-no reason}: ${message:-no message})")
    else
      out+=("$name (not available: ${progressing_reason:-${reason:-no reason}}: ${progressing_message:-${message:-no message}})")
    fi
  done <<< "$rows"
  [[ -n ${out[*]} ]] || return 0
  if [[ $1 == names ]]; then printf '%s\n' "${out[*]}"; else printf '%s\n' "${out[@]}"; fi
}

step_health() {
  local line
  say "waiting up to ${HEALTH_TIMEOUT}s until every tigerastatus is Available"
  print_cmd '?' kubectl get tigerastatus --output "$TIGERASTATUS_ROWS"
  (( ! DRY_RUN )) || return 0
  if ! poll_until "Calico Enterprise" "$HEALTH_TIMEOUT" unhealthy names; then
    say "Components not Available after ${HEALTH_TIMEOUT}s:"
    while IFS= read -r line; do say "  - $line"; done < <(unhealthy details)
    die "Calico Enterprise is not healthy; resume with --from health once it is"
  fi
  say "every tigerastatus is Available"
}

step_handover() {
  handover_argocd
}

# Health checks first (a partial argocd-cm: conflicts on keys another manager owns stop it),
# then the AppProject the root Application belongs to, then the root Application.
handover_argocd() {
  require_crd applications.argoproj.io "Argo CD (gitops.engineInstalled: true)"
  apply_objects --no-force "Argo CD health checks in argocd-cm" --filename "$TREE/argocd/argocd-cm-health.yaml"
  apply_objects "Argo CD AppProject" --filename "$TREE/argocd/apps/project.yaml"
  apply_objects "Argo CD root Application" --filename "$TREE/argocd/root-application.yaml"
}

# ---- Main ----------------------------------------------------------------------------------

usage() {
  local entry name fn description index=0
  cat << EOF
Usage: $SELF [options]

Bootstraps SKS cluster $CLUSTER in $ZONE with Calico Enterprise, step by step as the seed
runbook does, then hands the applied stages over to the GitOps engine. Every step checks
the current state first and skips what is done, so the script can run again at any time.

Steps (preflight always runs; --from resumes at a later one):
EOF
  for entry in "${STEPS[@]}"; do
    IFS='|' read -r name fn description <<< "$entry"
    index=$((index + 1))
    printf '  %2d  %-30s %s\n' "$index" "$name" "$description"
  done
  cat << EOF

Options (environment variable in brackets):
  --pull-secret FILE      docker config JSON for tigera-pull-secret  [BOOTSTRAP_PULL_SECRET]
  --license FILE          LicenseKey named default (YAML or JSON)    [BOOTSTRAP_LICENSE]
  --kubeconfig FILE       admin kubeconfig, written with mode 0600 outside the repository
                          [KUBECONFIG; default ~/.kube/$CLUSTER.config]
  --nodeport-source CIDR  source allowed to NodePorts 30000-32767    [BOOTSTRAP_NODEPORT_SOURCE; 0.0.0.0/0]
  --wait-timeout S        CRDs Established, operator namespaces      [BOOTSTRAP_WAIT_TIMEOUT; 300]
  --apiserver-timeout S   Tigera API server Available                [BOOTSTRAP_APISERVER_TIMEOUT; 1800]
  --health-timeout S      every tigerastatus Available               [BOOTSTRAP_HEALTH_TIMEOUT; 2700]
  --poll-interval S       seconds between two polls of a wait        [BOOTSTRAP_POLL_INTERVAL; 15]
  --from STEP             resume at STEP (a name above)
  --dry-run               print every command (+ changes, ? reads and waits) and run none;
                          secret files are checked locally, never printed
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

on_exit() {
  local status=$?
  if [[ -n $WORK && $WORK != "${TMPDIR:-/tmp}/sks-bootstrap-dry-run" ]]; then rm -rf -- "$WORK"; fi
  if (( status != 0 && ! DELIBERATE_EXIT )); then
    [[ -z $CURRENT_STEP ]] ||
      say "bootstrap: step $CURRENT_STEP failed. Fix the cause, then resume with the same options and --from $CURRENT_STEP"
    exit "$EXIT_FAILED"
  fi
}

main() {
  local entry name fn description names=() index=0 total=0 reached=1
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
  trap 'DELIBERATE_EXIT=1; say "bootstrap: interrupted"; exit 130' INT TERM
  if (( DRY_RUN )); then
    exec 3>&1
    WORK=${TMPDIR:-/tmp}/sks-bootstrap-dry-run
    say "dry run: the commands are printed, none is run"
  else
    exec 3>&2
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sks-bootstrap.XXXXXX")
  fi
  for entry in "${STEPS[@]}"; do
    IFS='|' read -r name fn description <<< "$entry"
    index=$((index + 1))
    [[ $name != "$FROM" ]] || reached=1
    if [[ $name != preflight ]] && (( ! reached )); then continue; fi
    CURRENT_STEP=$name
    say "==> [$index/${total}] $name: $description"
    "$fn"
  done
  CURRENT_STEP=""
  say "bootstrap of $CLUSTER: done"
}

main "$@"
