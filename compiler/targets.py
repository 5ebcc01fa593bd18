"""What differs between target operating systems, as data.

Templates and emitters ask the target; they never test `target == ...`.
Sources: Debian 12 package contents (checked with the packages installed here),
the RHEL/CentOS Stream 9 package layout, design-notes.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class PackageRepository:
    """A repository the packages come from that a fresh host does not have enabled."""
    repo_id: str  # as `dnf repolist --enabled` names it once enabled on CentOS Stream
    other_ids: tuple[str, ...]  # the same content under another id elsewhere (any one will do)
    needed_by: tuple[str, ...]  # 'cluster' or a service name: the nodes that install from it
    # On CentOS Stream setup.sh enables it itself; elsewhere (RHEL) the operator must,
    # through their subscription, and setup.sh stops naming what to enable.
    enable_on_centos: tuple[tuple[str, ...], ...]
    operator_hint: str


@dataclass(frozen=True)
class DebconfAnswer:
    """A question a package asks at install time, answered before apt-get install runs."""
    package: str
    question: str
    type: str
    value: str

    @property
    def selection(self) -> str:
        """The line debconf-set-selections reads."""
        return f"{self.package} {self.question} {self.type} {self.value}"


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    # The Debian release whose tools judge this target's bundles and whose hosts the lab boots
    # ('' for a target no Debian release ships).
    debian_suite: str
    # Package manager commands (argv prefix); the package list is appended.
    install_command: tuple[str, ...]
    installed_check: tuple[str, ...]
    refresh_command: tuple[str, ...]
    package_repositories: tuple[PackageRepository, ...]
    # What the OS installer reads to run our setup after installing: 'preseed' (debian-installer's
    # late_command) or 'kickstart' (Anaconda's %post).
    installer_hook: str
    packages_cluster: tuple[str, ...]  # on every node in a Pacemaker cluster
    packages_loadbalancer: tuple[str, ...]
    packages_galera: tuple[str, ...]
    packages_rabbitmq: tuple[str, ...]
    packages_keystone: tuple[str, ...]
    pcs_release: str  # what the release ships; named in the generated scripts' headers
    # pcs 0.11.5 takes clone/promotable options positionally; 0.11.7+ wants
    # the 'meta' keyword and deprecates the positional form.
    pcs_clone_meta_keyword: bool
    # pcs 0.12 puts clone options given at create on the primitive: clone in a step of its own.
    pcs_clone_separately: bool
    # pcs 0.12 deprecates bare constraint scores ('INFINITY'); it wants 'score=INFINITY'.
    pcs_score_keyword: bool
    # Answers to the packages' debconf questions (Debian's OpenStack packages would otherwise
    # offer to configure a database and endpoints of their own).
    debconf_answers: tuple[DebconfAnswer, ...]
    # MariaDB / Galera
    galera_config_path: str
    galera_sst_config_path: str
    galera_provider: str
    mariadb_unit: str
    # Where Pacemaker's galera agent tells mysqld_safe to log; setup.sh creates the folder.
    galera_log_file: str
    # Packaged units that would start MariaDB behind Pacemaker's back (socket activation).
    mariadb_masked_units: tuple[str, ...]
    # clustercheck listener: 'xinetd' or 'systemd-socket'
    clustercheck_listener: str
    # RabbitMQ: 'deprecated' or 'removed' for classic mirrored queues
    rabbitmq_version: str
    rabbitmq_mirroring: str
    # Keystone under Apache mod_wsgi
    apache_unit: str
    apache_log_dir: str
    keystone_site_path: str
    keystone_site_enable: tuple[str, ...]
    # Apache's own Listen lines and default site ('' where the target has none to replace): each
    # hagen site says where it listens, and Debian's *:80 would take the port from HAProxy's VIPs.
    apache_ports_path: str
    apache_default_site_disable: tuple[str, ...]
    keystone_wsgi_script: str
    # Keystone's site serving HTTPS to HAProxy (mod_ssl): what installs and enables the module, and
    # the package's own TLS site to replace ('' where none: Debian's ssl.conf only sets defaults;
    # el9's mod_ssl listens on 443 on every address with a self-signed certificate).
    apache_tls_packages: tuple[str, ...]
    apache_tls_enable: tuple[str, ...]
    apache_tls_default_site: str
    keystone_packaged_unit: str  # a packaged keystone service to keep stopped ('' if none)
    memcached_config_path: str
    memcached_config_style: str  # 'debian' (-l lines) or 'sysconfig' (OPTIONS=)
    corosync_logfile: str
    # Where a local CA goes for the system's trust store, and the command that adds it there.
    ca_trust_file: str
    ca_trust_update: str
    # Prometheus exporters from the release's own packages (compiler/monitoring.py): trixie's.
    monitoring: bool = False


DEBIAN12 = Target(
    name="debian12",
    title="Debian 12 (bookworm)",
    debian_suite="bookworm",
    install_command=("apt-get", "install", "-y", "--no-install-recommends"),
    installed_check=("dpkg", "-s"),
    refresh_command=("apt-get", "update"),
    package_repositories=(),  # everything is in Debian's main archive
    installer_hook="preseed",
    packages_cluster=("pacemaker", "pacemaker-cli-utils", "pcs", "corosync", "fence-agents", "resource-agents"),
    packages_loadbalancer=("haproxy",),
    packages_galera=("mariadb-server", "galera-4", "mariadb-backup", "socat", "rsync", "xinetd", "curl"),
    packages_rabbitmq=("rabbitmq-server",),
    packages_keystone=("keystone", "apache2", "libapache2-mod-wsgi-py3", "memcached",
                       "python3-memcache", "python3-openstackclient"),
    pcs_release="0.11.5",
    pcs_clone_meta_keyword=False,
    pcs_clone_separately=False,
    pcs_score_keyword=False,
    debconf_answers=(),  # noninteractive installs take the defaults, which configure nothing
    galera_config_path="/etc/mysql/mariadb.conf.d/60-galera.cnf",
    galera_sst_config_path="/etc/mysql/mariadb.conf.d/61-galera-sst.cnf",
    galera_provider="/usr/lib/galera/libgalera_smm.so",
    mariadb_unit="mariadb",
    galera_log_file="/var/log/mysql/error.log",  # Debian 12 logs to the journal: no such folder by default
    mariadb_masked_units=("mariadb.socket",),  # listens on *:3306 and activates mariadb.service
    clustercheck_listener="xinetd",
    rabbitmq_version="3.10",
    rabbitmq_mirroring="deprecated",
    apache_unit="apache2",
    ca_trust_file="/usr/local/share/ca-certificates/hagen-ca.crt",
    ca_trust_update="update-ca-certificates",
    apache_log_dir="/var/log/apache2",
    keystone_site_path="/etc/apache2/sites-available/keystone-wsgi.conf",
    keystone_site_enable=("a2ensite", "keystone-wsgi"),
    apache_ports_path="/etc/apache2/ports.conf",
    apache_default_site_disable=("a2dissite", "000-default"),
    keystone_wsgi_script="/usr/bin/keystone-wsgi-public",
    apache_tls_packages=(),  # apache2 ships mod_ssl
    apache_tls_enable=("a2enmod", "-q", "ssl"),
    apache_tls_default_site="",
    keystone_packaged_unit="keystone",
    memcached_config_path="/etc/memcached.conf",
    memcached_config_style="debian",
    corosync_logfile="/var/log/corosync/corosync.log",
)

EL9 = Target(
    name="el9",
    title="RHEL 9 / CentOS Stream 9 (RDO)",
    debian_suite="",
    install_command=("dnf", "install", "-y"),
    installed_check=("rpm", "-q"),
    refresh_command=(),
    # Pacemaker and pcs are in the HighAvailability repository; Keystone and RabbitMQ come from
    # RDO (the CentOS Cloud SIG release package, which also brings the messaging SIG), whose
    # dependencies need CRB. None of them is enabled on a fresh install.
    installer_hook="kickstart",
    package_repositories=(
        PackageRepository("highavailability", ("rhel-9-for-x86_64-highavailability-rpms",), ("cluster",),
                          (("dnf", "install", "-y", "dnf-plugins-core"),
                           ("dnf", "config-manager", "--set-enabled", "highavailability")),
                          "subscription-manager repos --enable=rhel-9-for-x86_64-highavailability-rpms"),
        PackageRepository("crb", ("codeready-builder-for-rhel-9-x86_64-rpms",), ("keystone", "rabbitmq"),
                          (("dnf", "install", "-y", "dnf-plugins-core"),
                           ("dnf", "config-manager", "--set-enabled", "crb")),
                          "subscription-manager repos --enable=codeready-builder-for-rhel-9-x86_64-rpms"),
        PackageRepository("centos-openstack-epoxy", ("openstack-epoxy",), ("keystone", "rabbitmq"),
                          (("dnf", "install", "-y", "centos-release-openstack-epoxy"),),
                          "install RDO's release package for OpenStack 2025.1 (rdo-release) as"
                          " https://www.rdoproject.org describes for RHEL 9"),
    ),
    packages_cluster=("pacemaker", "pcs", "corosync", "fence-agents-all", "resource-agents"),
    packages_loadbalancer=("haproxy",),
    packages_galera=("mariadb-server-galera", "mariadb-backup", "socat", "rsync", "curl"),
    packages_rabbitmq=("rabbitmq-server",),
    packages_keystone=("openstack-keystone", "httpd", "python3-mod_wsgi", "memcached",
                       "python3-memcached", "python3-openstackclient"),
    pcs_release="0.11.7 or later",
    pcs_clone_meta_keyword=True,
    pcs_clone_separately=False,
    pcs_score_keyword=False,
    debconf_answers=(),
    galera_config_path="/etc/my.cnf.d/galera.cnf",
    galera_sst_config_path="/etc/my.cnf.d/galera-sst.cnf",
    galera_provider="/usr/lib64/galera/libgalera_smm.so",
    mariadb_unit="mariadb",
    galera_log_file="/var/log/mariadb/mariadb.log",
    mariadb_masked_units=(),
    clustercheck_listener="systemd-socket",
    rabbitmq_version="4.x (cloud SIG)",
    rabbitmq_mirroring="removed",
    apache_unit="httpd",
    ca_trust_file="/etc/pki/ca-trust/source/anchors/hagen-ca.crt",
    ca_trust_update="update-ca-trust",
    apache_log_dir="/var/log/httpd",
    keystone_site_path="/etc/httpd/conf.d/wsgi-keystone.conf",
    keystone_site_enable=(),
    apache_ports_path="",  # httpd.conf's Listen 80 stays: no catalog service compiled for el9 needs port 80
    apache_default_site_disable=(),
    keystone_wsgi_script="/usr/bin/keystone-wsgi-public",
    apache_tls_packages=("mod_ssl",),
    apache_tls_enable=(),
    apache_tls_default_site="/etc/httpd/conf.d/ssl.conf",
    keystone_packaged_unit="",
    memcached_config_path="/etc/sysconfig/memcached",
    memcached_config_style="sysconfig",
    corosync_logfile="/var/log/cluster/corosync.log",
)

# Debian 13: what differs from Debian 12 (versions in design-notes.md, seen in a trixie root):
# pcs 0.12 (clone step, score=), fence_ipmilan in its own package, RabbitMQ 4.0 (no classic
# mirroring), OpenStack 2025.1 Epoxy (keystone 27), whose package asks debconf questions.
DEBIAN13 = dataclasses.replace(
    DEBIAN12,
    name="debian13",
    title="Debian 13 (trixie)",
    debian_suite="trixie",
    packages_cluster=("pacemaker", "pacemaker-cli-utils", "pcs", "corosync", "fence-agents-ipmilan",
                      "resource-agents"),
    pcs_release="0.12",
    pcs_clone_separately=True,
    pcs_score_keyword=True,
    rabbitmq_version="4.0",
    rabbitmq_mirroring="removed",
    monitoring=True,
    debconf_answers=(
        DebconfAnswer("keystone", "keystone/configure_db", "boolean", "false"),
        DebconfAnswer("keystone", "keystone/create-admin-tenant", "boolean", "false"),
        DebconfAnswer("keystone", "keystone/register-endpoint", "boolean", "false"),
    ),
)

TARGETS = {t.name: t for t in (DEBIAN12, DEBIAN13, EL9)}
