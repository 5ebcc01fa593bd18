# Register the catalog's services in Keystone: for each, its service entry, its public, internal
# and admin endpoints (on its VIP) and its service user in the 'service' project with its roles.
# Then each stack-user domain (Heat's), its admin with the admin role on it, and the roles the
# service gives its users. Run by keystone-bootstrap.sh with admin-openrc sourced; argv[1] is the
# JSON list of registrations, argv[2] that of the domains, each naming the environment variable
# that holds a user's password (from secrets.env: no password is on a command line). Safe to
# rerun: it converges.
import json
import os
import sys

import openstack
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session
from keystoneauth1.identity import v3

conn = openstack.connect()
identity = conn.identity
project = identity.find_project("service", domain_id="default", ignore_missing=False)


def password_works(name, password, domain="Default"):
    """Does the user already log in with this password? (Setting it again would revoke its tokens.)
    A Default-domain user logs in to the service project, a domain's admin to its domain."""
    scope = {"project_name": "service", "project_domain_name": "Default"} if domain == "Default" else \
        {"domain_name": domain}
    auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username=name, password=password,
                       user_domain_name=domain, **scope)
    try:
        # admin-openrc's OS_CACERT (hagen's CA) verifies the VIP, as openstack.connect() does.
        session.Session(auth=auth, verify=os.environ.get("OS_CACERT", True)).get_token()
        return True
    except ks_exceptions.http.Unauthorized:
        return False


for entry in json.loads(sys.argv[1]):
    service = identity.find_service(entry["name"]) or identity.create_service(
        name=entry["name"], type=entry["type"], description=f"OpenStack {entry['name']}")
    for interface in entry["interfaces"]:
        found = list(identity.endpoints(service_id=service.id, interface=interface, region_id=entry["region"]))
        if not found:
            identity.create_endpoint(service_id=service.id, interface=interface, url=entry["url"],
                                     region_id=entry["region"])
        elif found[0].url != entry["url"]:
            identity.update_endpoint(found[0], url=entry["url"])
    if entry["user"] is None:  # a service's second entry: its user came with the first
        print(f"keystone-register.py: {entry['name']} ({entry['type']}) at {entry['url']}")
        continue
    password = os.environ[entry["password_env"]]
    user = identity.find_user(entry["user"], domain_id="default")
    if user is None:
        user = identity.create_user(name=entry["user"], domain_id="default", password=password,
                                    default_project_id=project.id)
    elif not password_works(entry["user"], password):
        identity.update_user(user, password=password)
    for role_name in entry["roles"]:
        role = identity.find_role(role_name) or identity.create_role(name=role_name)
        identity.assign_project_role_to_user(project, user, role)
    print(f"keystone-register.py: {entry['name']} ({entry['type']}) at {entry['url']}, user {entry['user']}")

for entry in json.loads(sys.argv[2]):
    domain = identity.find_domain(entry["domain"]) or identity.create_domain(
        name=entry["domain"], description=f"Users and projects {entry['admin']} creates")
    password = os.environ[entry["password_env"]]
    admin = identity.find_user(entry["admin"], domain_id=domain.id)
    if admin is None:
        admin = identity.create_user(name=entry["admin"], domain_id=domain.id, password=password)
    admin_role = identity.find_role("admin", ignore_missing=False)
    identity.assign_domain_role_to_user(domain, admin, admin_role)
    if not password_works(entry["admin"], password, entry["domain"]):
        identity.update_user(admin, password=password)
    for role_name in entry["roles"]:
        identity.find_role(role_name) or identity.create_role(name=role_name)
    print(f"keystone-register.py: domain {entry['domain']}, its admin {entry['admin']}, "
          f"roles {', '.join(entry['roles'])}")
