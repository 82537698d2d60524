# shellcheck shell=bash
# bench/install.sh: installs, through apt, the tools the benchmark needs and
# lacks. Sourced by bench/run. A policy-rc.d that forbids starting services
# is in place during the install (keepalived's, etcd's, Patroni's,
# vip-manager's and PostgreSQL's packages would otherwise start their
# services in the root namespace), and removed afterwards unless it was
# there before.

bench_install() {
    local need=() created_policy=0
    command -v keepalived >/dev/null || need+=(keepalived)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v stress-ng >/dev/null || need+=(stress-ng)
    command -v ip >/dev/null || need+=(iproute2)
    command -v bridge >/dev/null || need+=(iproute2)
    command -v setsid >/dev/null || need+=(util-linux)
    command -v ping >/dev/null || need+=(iputils-ping)
    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
    # the Patroni part (issue 11): the same packages as .ci/run installs
    command -v etcd >/dev/null || need+=(etcd-server)
    command -v etcdctl >/dev/null || need+=(etcd-client)
    [[ -x /usr/bin/patroni ]] || need+=(patroni)
    /usr/bin/python3 -c 'import etcd, psycopg2' 2>/dev/null || need+=(python3-etcd python3-psycopg2)
    command -v vip-manager >/dev/null || need+=(vip-manager)
    [[ -x /usr/lib/postgresql/15/bin/postgres ]] || need+=(postgresql-15)
    ((${#need[@]})) || return 0
    echo "bench: installing ${need[*]}"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    } >/dev/null || rc=$?
    ((created_policy == 0)) || rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        echo "bench: apt-get install ${need[*]} failed (status $rc)" >&2
        return 1
    fi
}
