# Register the catalog's services in Keystone: for each, its service entry, its public, internal
# and admin endpoints (on its VIP) and its service user in the 'service' project with its roles.
# Run by keystone-bootstrap.sh with admin-openrc sourced; argv[1] is the JSON list of
# registrations, each naming the environment variable that holds the user's password (from
# secrets.env: no password is on a command line). Safe to rerun: it converges.
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


def password_works(name, password):
    """Does the user already log in with this password? (Setting it again would revoke its tokens.)"""
    auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username=name, password=password,
                       project_name="service", user_domain_name="Default", project_domain_name="Default")
    try:
        session.Session(auth=auth).get_token()
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
