#!/usr/bin/env python3
"""Contract scenario: the official Hetzner Cloud Python client (`hcloud`) against the sovstack simulator.

Drives the client through every endpoint the simulator serves, the way real scripts use it: create, read, list
(pages, label selectors, filters, sort), update, act and wait, break rules on purpose and read the error codes,
protect, back up, delete. Every step checks what the client parsed into its models (types, not just presence).

Usage: hcloud_official.py --endpoint http://127.0.0.1:PORT/v1 [--token TOKEN]

The endpoint must be a loopback address: nothing here talks to anything else. The simulator must run with
SLOW_FAULTS below (so a server stays locked long enough to be seen locked) and FAILING_FAULTS (so a failed action
can be waited on): `sovstack sandbox --faults "<both, comma-separated>"`.

Prints one line per step (`PASS name` or `FAIL name: reason`), then `N passed, M failed`; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import ipaddress
import os
import sys
import traceback
import urllib.parse
from typing import Any, Callable

from hcloud import APIException, Client
from hcloud.actions import ActionFailedException, BoundAction
from hcloud.firewalls import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork
from hcloud.ssh_keys import SSHKey

# The faults the simulator must run with (see the module docs).
SLOW_FAULTS = "POST /servers/*/actions/reboot:action_duration=1s"
FAILING_FAULTS = "POST /servers/*/actions/reset:action_error=reset_failed"

LABELS = {"contract": "hcloud-python"}


class StepFailed(Exception):
    """A check inside a step did not hold."""


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise StepFailed(reason)


def check_type(value: Any, kind: type | tuple[type, ...], what: str) -> None:
    check(isinstance(value, kind), f"{what} is {value!r} ({type(value).__name__}), expected {kind}")


def check_time(value: Any, what: str) -> None:
    """A timezone-aware datetime, as the client parses RFC 3339 timestamps."""
    check_type(value, datetime.datetime, what)
    check(value.tzinfo is not None, f"{what} has no timezone: {value!r}")


def api_error(code: str, call: Callable[[], Any]) -> APIException:
    """Runs `call`, which must fail with API error `code`; returns the exception."""
    try:
        result = call()
    except APIException as e:
        check(e.code == code, f"expected API error {code}, got {e.code}: {e.message}")
        check_type(e.message, str, "error message")
        check(bool(e.correlation_id), "the error carries no correlation ID")
        return e
    raise StepFailed(f"expected API error {code}, but the call returned {result!r}")


def error_fields(e: APIException) -> list[str]:
    return [f["name"] for f in (e.details or {}).get("fields", [])]


def public_key(n: int) -> tuple[str, str]:
    """A well-formed ed25519 public key line and its MD5 fingerprint (as ssh-keygen -E md5 prints it)."""
    kind = b"ssh-ed25519"
    material = hashlib.sha256(f"contract-key-{n}-{os.getpid()}".encode()).digest()
    blob = len(kind).to_bytes(4, "big") + kind + len(material).to_bytes(4, "big") + material
    fingerprint = ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} contract-{n}", fingerprint


def unexpected(e: BaseException) -> str:
    """The exception and the line of this script it came through."""
    mine = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
    where = f" (at line {mine[-1].lineno})" if mine else ""
    return f"{type(e).__name__}: {e}{where}"


def wait(actions: list[BoundAction]) -> None:
    for action in actions:
        action.wait_until_finished()
        check(action.status == "success", f"action {action.command} ended {action.status}")


class Scenario:
    """The steps, in order; later steps use what earlier ones made (kept as attributes)."""

    def __init__(self, client: Client, endpoint: str):
        self.client = client
        self.endpoint = endpoint
        self.results: list[tuple[str, str | None]] = []

    # -- running -------------------------------------------------------------------------------------------------

    def run(self) -> int:
        for name in [n for n in dir(self) if n.startswith("step_")]:
            self.run_step(name, getattr(self, name))
        failed = [r for r in self.results if r[1] is not None]
        print(f"{len(self.results) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0

    def run_step(self, name: str, step: Callable[[], None]) -> None:
        label = name.split("_", 2)[2] if name.count("_") >= 2 else name
        try:
            step()
        except StepFailed as e:
            self.record(label, str(e))
        except AttributeError as e:
            if e.obj is self:
                self.record(label, f"needs `{e.name}`, which an earlier step did not make")
            else:
                self.record(label, unexpected(e))
        except Exception as e:  # an unexpected exception is a failure with its place, not a crash
            self.record(label, unexpected(e))
        else:
            self.record(label, None)

    def record(self, label: str, failure: str | None) -> None:
        self.results.append((label, failure))
        print(f"PASS {label}" if failure is None else f"FAIL {label}: {failure}", flush=True)

    def raw(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """An endpoint the library has no method for, sent through the client's own request path."""
        return self.client.request(method, path, **kwargs)

    # -- catalogs ------------------------------------------------------------------------------------------------

    def step_001_locations_list_and_fields(self) -> None:
        locations = self.client.locations.get_all()
        names = {loc.name for loc in locations}
        check({"fsn1", "nbg1", "hel1"} <= names, f"locations: {sorted(names)}")
        fsn1 = next(loc for loc in locations if loc.name == "fsn1")
        check_type(fsn1.id, int, "location.id")
        check(fsn1.country == "DE" and fsn1.network_zone == "eu-central", f"fsn1: {fsn1.country} {fsn1.network_zone}")
        check_type(fsn1.latitude, float, "location.latitude")
        check_type(fsn1.city, str, "location.city")
        self.fsn1 = fsn1

    def step_002_location_by_id_and_name_filter(self) -> None:
        by_id = self.client.locations.get_by_id(self.fsn1.id)
        check(by_id.name == "fsn1", f"get_by_id gave {by_id.name}")
        hel1 = self.client.locations.get_by_name("hel1")
        check(hel1 is not None and hel1.country == "FI", f"hel1: {hel1}")
        page = self.client.locations.get_list(name="hel1")
        check([loc.name for loc in page.locations] == ["hel1"], "the name filter is exact")
        self.hel1 = hel1

    def step_003_server_types_and_prices(self) -> None:
        types = self.client.server_types.get_all()
        check(len(types) >= 10, f"only {len(types)} server types")
        cx23 = self.client.server_types.get_by_name("cx23")
        check(cx23 is not None, "no cx23")
        check_type(cx23.id, int, "server_type.id")
        check_type(cx23.cores, int, "server_type.cores")
        check_type(cx23.memory, (int, float), "server_type.memory")
        check_type(cx23.disk, int, "server_type.disk")
        check(cx23.architecture == "x86" and cx23.cpu_type == "shared", f"cx23: {cx23.architecture} {cx23.cpu_type}")
        price = next(p for p in cx23.prices if p["location"] == "fsn1")
        check(float(price["price_monthly"]["net"]) > 0, f"price: {price}")
        where = {loc.location.name: loc for loc in cx23.locations}
        check({"fsn1", "nbg1", "hel1"} <= set(where), f"cx23 is offered in {sorted(where)}")
        check(where["fsn1"].available is True and where["fsn1"].deprecation is None, "cx23 in fsn1")
        self.cx23 = cx23
        self.cx33 = self.client.server_types.get_by_name("cx33")
        self.cax11 = self.client.server_types.get_by_name("cax11")

    def step_004_server_type_by_id(self) -> None:
        st = self.client.server_types.get_by_id(self.cx23.id)
        check(st.name == "cx23", f"get_by_id gave {st.name}")

    def step_005_images_filters_and_fields(self) -> None:
        images = self.client.images.get_all(type=["system"])
        check(len(images) >= 5, f"{len(images)} system images")
        arm = self.client.images.get_by_name_and_architecture("ubuntu-24.04", "arm")
        x86 = self.client.images.get_by_name_and_architecture("ubuntu-24.04", "x86")
        check(arm.id != x86.id and arm.architecture == "arm", "one image per name and architecture")
        check_time(x86.created, "image.created")
        check(x86.deprecation is None and x86.created_from is None and x86.bound_to is None, "system image fields")
        check_type(x86.disk_size, (int, float), "image.disk_size")
        check(x86.protection == {"delete": False}, f"image protection: {x86.protection}")
        check(x86.type == "system" and x86.os_flavor == "ubuntu", f"image: {x86.type} {x86.os_flavor}")
        self.ubuntu = x86
        self.debian = self.client.images.get_by_name_and_architecture("debian-12", "x86")

    def step_006_image_by_id_pages_and_sort(self) -> None:
        check(self.client.images.get_by_id(self.debian.id).name == "debian-12", "image by id")
        page = self.client.images.get_list(architecture=["x86"], sort=["name:desc"], page=2, per_page=2)
        meta = page.meta.pagination
        check(meta.page == 2 and meta.per_page == 2 and meta.previous_page == 1, f"meta: {meta}")
        check(len(page.images) == 2, f"{len(page.images)} images on page 2")
        first = self.client.images.get_list(architecture=["x86"], sort=["name:desc"], page=1, per_page=50)
        names = [i.name for i in first.images]
        check(names == sorted(names, reverse=True), f"sort=name:desc gave {names}")

    # -- SSH keys ------------------------------------------------------------------------------------------------

    def step_010_ssh_key_create_and_fields(self) -> None:
        line, fingerprint = public_key(0)
        key = self.client.ssh_keys.create(name="contract-admin", public_key=line, labels=dict(LABELS, role="admin"))
        check_type(key.id, int, "ssh_key.id")
        check(key.fingerprint == fingerprint, f"fingerprint {key.fingerprint}, expected {fingerprint}")
        check(key.public_key == line, "public_key echoed")
        check_time(key.created, "ssh_key.created")
        check(key.labels == dict(LABELS, role="admin"), f"labels {key.labels}")
        self.key, self.key_line, self.key_fingerprint = key, line, fingerprint

    def step_011_ssh_key_lookups(self) -> None:
        check(self.client.ssh_keys.get_by_id(self.key.id).name == "contract-admin", "by id")
        check(self.client.ssh_keys.get_by_name("contract-admin").id == self.key.id, "by name")
        check(self.client.ssh_keys.get_by_fingerprint(self.key_fingerprint).id == self.key.id, "by fingerprint")

    def step_012_ssh_key_uniqueness_errors(self) -> None:
        other, _ = public_key(1)
        e = api_error("uniqueness_error", lambda: self.client.ssh_keys.create(name="contract-admin", public_key=other))
        check(error_fields(e) == ["name"], f"fields {error_fields(e)}")
        e = api_error("uniqueness_error", lambda: self.client.ssh_keys.create(name="other", public_key=self.key_line))
        check(error_fields(e) == ["public_key"], f"fields {error_fields(e)}")

    def step_013_ssh_key_invalid_input(self) -> None:
        e = api_error("invalid_input", lambda: self.client.ssh_keys.create(name="bad", public_key="ssh-ed25519 !!"))
        check(error_fields(e) == ["public_key"], f"fields {error_fields(e)}")

    def step_014_ssh_key_update_replaces_labels(self) -> None:
        key = self.client.ssh_keys.update(self.key, name="contract-admin-2", labels=dict(LABELS))
        check(key.name == "contract-admin-2" and key.labels == LABELS, f"{key.name} {key.labels}")
        self.key = key

    def step_015_pagination_across_pages(self) -> None:
        self.batch = []
        for n in range(2, 55):
            line, _ = public_key(n)
            parity = "even" if n % 2 == 0 else "odd"
            self.batch.append(
                self.client.ssh_keys.create(name=f"batch-{n}", public_key=line, labels={"batch": "paging", "parity": parity})
            )
        everything = self.client.ssh_keys.get_all(label_selector="batch=paging")
        check(len(everything) == 53, f"get_all over two pages found {len(everything)} of 53")
        check(len({k.id for k in everything}) == 53, "get_all returned duplicates")

    def step_016_pagination_meta(self) -> None:
        last = self.client.ssh_keys.get_list(label_selector="batch=paging", page=2, per_page=50).meta.pagination
        check(
            (last.page, last.per_page, last.previous_page, last.next_page, last.last_page, last.total_entries)
            == (2, 50, 1, None, 2, 53),
            f"page 2 meta: {last}",
        )
        first = self.client.ssh_keys.get_list(label_selector="batch=paging", page=1, per_page=20).meta.pagination
        check((first.previous_page, first.next_page, first.last_page) == (None, 2, 3), f"page 1 meta: {first}")

    def step_017_label_selectors(self) -> None:
        cases = {
            "batch=paging,parity=odd": 26,
            "batch==paging,parity!=odd": 27,
            "parity in (odd,even)": 53,
            "parity notin (odd)": 28,  # the 27 even keys plus the admin key, which has no parity
            "batch,!parity": 0,
            "!batch": 1,
            "contract=hcloud-python": 1,
        }
        for selector, want in cases.items():
            got = len(self.client.ssh_keys.get_all(label_selector=selector))
            check(got == want, f"{selector!r} selected {got}, expected {want}")

    def step_018_invalid_label_selector(self) -> None:
        e = api_error("invalid_input", lambda: self.client.ssh_keys.get_list(label_selector="a=(b"))
        check(error_fields(e) == ["label_selector"], f"fields {error_fields(e)}")

    def step_019_ssh_key_delete_and_not_found(self) -> None:
        for key in self.batch:
            check(self.client.ssh_keys.delete(key) is True, f"delete of {key.name}")
        api_error("not_found", lambda: self.client.ssh_keys.get_by_id(self.batch[0].id))
        check(self.client.ssh_keys.get_by_name("batch-2") is None, "get_by_name of a deleted key")

    # -- firewalls -----------------------------------------------------------------------------------------------

    def step_020_firewall_create_and_rules(self) -> None:
        rules = [
            FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "2001:DB8:0:0::/32"]),
            FirewallRule(direction="in", protocol="icmp", source_ips=["0.0.0.0/0"], description="ping"),
            FirewallRule(direction="out", protocol="tcp", port="1024-5000", destination_ips=["::/0"]),
        ]
        resp = self.client.firewalls.create(name="contract-web", rules=rules, labels=dict(LABELS))
        fw = resp.firewall
        check(resp.actions == [], f"a firewall applied to nothing starts no action: {resp.actions}")
        check_type(fw.id, int, "firewall.id")
        check_time(fw.created, "firewall.created")
        check(len(fw.rules) == 3, f"{len(fw.rules)} rules")
        ssh = fw.rules[0]
        check(ssh.port == "22" and ssh.protocol == "tcp" and ssh.direction == "in", f"rule 0: {ssh}")
        check(ssh.source_ips == ["0.0.0.0/0", "2001:db8::/32"], f"IPv6 not canonical: {ssh.source_ips}")
        check(fw.rules[1].port is None and fw.rules[1].description == "ping", f"rule 1: {fw.rules[1]}")
        check(fw.rules[2].destination_ips == ["::/0"], f"rule 2: {fw.rules[2]}")
        self.fw = self.client.firewalls.get_by_id(fw.id)

    def step_021_firewall_errors(self) -> None:
        api_error("uniqueness_error", lambda: self.client.firewalls.create(name="contract-web"))
        bad = [FirewallRule(direction="in", protocol="tcp", source_ips=["0.0.0.0/0"])]
        e = api_error("invalid_input", lambda: self.client.firewalls.create(name="contract-bad", rules=bad))
        check(error_fields(e) == ["rules[0].port"], f"fields {error_fields(e)}")

    def step_022_firewall_set_rules(self) -> None:
        rules = self.fw.rules + [FirewallRule(direction="in", protocol="udp", port="53", source_ips=["10.0.0.0/8"])]
        actions = self.client.firewalls.set_rules(self.fw, rules)
        check([a.command for a in actions] == ["set_firewall_rules"], f"commands {[a.command for a in actions]}")
        wait(actions)
        check(len(self.client.firewalls.get_by_id(self.fw.id).rules) == 4, "the rules were replaced")

    def step_023_firewall_lookups_and_update(self) -> None:
        check(self.client.firewalls.get_by_name("contract-web").id == self.fw.id, "by name")
        listed = self.client.firewalls.get_all(label_selector="contract=hcloud-python")
        check([f.id for f in listed] == [self.fw.id], f"by label: {[f.id for f in listed]}")
        sorted_page = self.client.firewalls.get_list(sort=["id:desc"], per_page=5)
        check(sorted_page.firewalls[0].id == self.fw.id, "sort")
        fw = self.client.firewalls.update(self.fw, labels=dict(LABELS, tier="web"))
        check(fw.labels == dict(LABELS, tier="web"), f"labels {fw.labels}")

    # -- servers -------------------------------------------------------------------------------------------------

    def step_030_server_create_by_names(self) -> None:
        resp = self.client.servers.create(
            name="contract-web-1",
            server_type=ServerType(name="cx23"),
            image=Image(name="ubuntu-24.04"),
            location=Location(name="fsn1"),
            ssh_keys=[SSHKey(name=self.key.name)],
            firewalls=[self.fw],
            user_data="#cloud-config\n",
            labels=dict(LABELS, role="web"),
        )
        check(resp.server.status == "initializing", f"status {resp.server.status}")
        check(resp.action.command == "create_server" and resp.action.status == "running", f"{resp.action.command}")
        check([a.command for a in resp.next_actions] == ["start_server"], f"next {resp.next_actions}")
        check(resp.root_password is None, "no root password when SSH keys are given")
        wait([resp.action] + resp.next_actions)
        self.web = self.client.servers.get_by_id(resp.server.id)
        check(self.web.status == "running", f"after its actions the server is {self.web.status}")

    def step_031_server_model_fields(self) -> None:
        s = self.web
        check_type(s.id, int, "server.id")
        check_time(s.created, "server.created")
        check(ipaddress.ip_address(s.public_net.ipv4.ip).is_loopback, f"ipv4 {s.public_net.ipv4.ip}")
        check_type(s.public_net.ipv4.blocked, bool, "ipv4.blocked")
        check_type(s.public_net.primary_ipv4.id, int, "primary_ipv4.id")
        check(s.public_net.firewalls[0].firewall.id == self.fw.id, "firewall on the public interface")
        check(s.public_net.firewalls[0].status == "applied", f"firewall {s.public_net.firewalls[0].status}")
        check(s.server_type.name == "cx23" and s.image.name == "ubuntu-24.04", f"{s.server_type.name} {s.image.name}")
        check(s.location.name == "fsn1" and s.location.country == "DE", f"location {s.location.name}")
        check(s.locked is False and s.rescue_enabled is False and s.backup_window is None, "flags")
        check(s.protection == {"delete": False, "rebuild": False}, f"protection {s.protection}")
        check_type(s.included_traffic, int, "included_traffic")
        check_type(s.primary_disk_size, int, "primary_disk_size")
        check(s.volumes == [] and s.private_net == [] and s.placement_group is None, "no attachments")

    def step_032_server_ipv6_network(self) -> None:
        v6 = self.web.public_net.ipv6
        check(v6 is not None, "public_net.ipv6 is null")
        net = ipaddress.ip_network(v6.ip)
        check(net.version == 6 and net.prefixlen == 64, f"ipv6 {v6.ip}")
        check(net.subnet_of(ipaddress.ip_network("2001:db8::/32")), f"{v6.ip} is outside the documentation prefix")
        check(v6.network_mask == "64" and v6.blocked is False and v6.dns_ptr == [], f"ipv6 {v6.network_mask} {v6.dns_ptr}")
        check_type(self.web.public_net.primary_ipv6.id, int, "primary_ipv6.id")

    def step_033_server_create_by_numeric_ids(self) -> None:
        resp = self.client.servers.create(
            name="contract-db-1",
            server_type=ServerType(id=self.cx23.id),
            image=Image(id=self.ubuntu.id),
            location=Location(id=self.fsn1.id),
            ssh_keys=[SSHKey(id=self.key.id)],
            labels=dict(LABELS, role="db"),
            public_net=ServerCreatePublicNetwork(enable_ipv4=True, enable_ipv6=False),
        )
        wait([resp.action] + resp.next_actions)
        db = self.client.servers.get_by_id(resp.server.id)
        check((db.server_type.name, db.image.name, db.location.name) == ("cx23", "ubuntu-24.04", "fsn1"), "by ids")
        check(db.public_net.ipv6 is None and db.public_net.primary_ipv6 is None, "created without IPv6")
        self.db = db

    def step_034_server_without_keys_gets_root_password_and_stays_off(self) -> None:
        resp = self.client.servers.create(
            name="contract-spare",
            server_type=self.cx23,
            image=self.ubuntu,
            location=self.hel1,
            start_after_create=False,
            labels=dict(LABELS, role="spare"),
        )
        check_type(resp.root_password, str, "root_password")
        check(resp.next_actions == [], f"start_after_create=false starts nothing: {resp.next_actions}")
        wait([resp.action])
        self.spare = self.client.servers.get_by_id(resp.server.id)
        check(self.spare.status == "off", f"status {self.spare.status}")

    def step_035_server_create_errors(self) -> None:
        api_error("uniqueness_error", lambda: self.client.servers.create(
            name="contract-web-1", server_type=self.cx23, image=self.ubuntu))
        e = api_error("invalid_input", lambda: self.client.servers.create(
            name="not_a_hostname", server_type=ServerType(name="cx999"), image=self.ubuntu))
        check(error_fields(e) == ["name", "server_type"], f"fields {error_fields(e)}")
        e = api_error("invalid_input", lambda: self.client.servers.create(
            name="contract-x", server_type=self.cx23, image=Image(id=1)))
        check(error_fields(e) == ["image"], f"fields {error_fields(e)}")
        ash = self.client.locations.get_by_name("ash")
        api_error("resource_unavailable", lambda: self.client.servers.create(
            name="contract-x", server_type=self.cx23, image=self.ubuntu, location=ash))

    def step_036_server_lists_filters_and_selectors(self) -> None:
        mine = self.client.servers.get_all(label_selector="contract=hcloud-python")
        check(len(mine) == 3, f"{len(mine)} servers")
        web_db = self.client.servers.get_all(label_selector="contract=hcloud-python,role in (web,db)")
        check(sorted(s.name for s in web_db) == ["contract-db-1", "contract-web-1"], f"{[s.name for s in web_db]}")
        off = self.client.servers.get_all(status=["off"])
        check([s.name for s in off] == ["contract-spare"], f"status filter {[s.name for s in off]}")
        check(self.client.servers.get_by_name("contract-db-1").id == self.db.id, "by name")
        page = self.client.servers.get_list(per_page=1, page=3)
        check(len(page.servers) == 1 and page.meta.pagination.last_page == 3, f"{page.meta.pagination}")

    def step_037_server_update(self) -> None:
        renamed = self.client.servers.update(self.spare, name="contract-spare-2", labels=dict(LABELS))
        check(renamed.name == "contract-spare-2" and renamed.labels == LABELS, f"{renamed.name} {renamed.labels}")
        self.spare = renamed

    def step_038_power_actions(self) -> None:
        steps = [
            (self.client.servers.power_off, "stop_server", "off"),
            (self.client.servers.power_on, "start_server", "running"),
            (self.client.servers.shutdown, "shutdown_server", "off"),
            (self.client.servers.power_on, "start_server", "running"),
        ]
        for call, command, status in steps:
            action = call(self.db)
            check(action.command == command, f"{call.__name__} started {action.command}")
            check_time(action.started, "action.started")
            check(action.finished is None and action.status == "running", f"a fresh action is {action.status}")
            wait([action])
            check_time(action.finished, "action.finished")
            check(action.progress == 100 and action.error is None, f"{action.progress} {action.error}")
            check(action.resources == [{"id": self.db.id, "type": "server"}], f"resources {action.resources}")
            got = self.client.servers.get_by_id(self.db.id).status
            check(got == status, f"after {command} the server is {got}")

    def step_039_failed_action_raises(self) -> None:
        action = self.db.reset()
        try:
            action.wait_until_finished()
        except ActionFailedException as e:
            check(e.action.status == "error", f"status {e.action.status}")
            check(e.action.error["code"] == "reset_failed", f"error {e.action.error}")
        else:
            raise StepFailed(f"the reset was to fail ({FAILING_FAULTS}), it ended {action.status}")

    def step_040_locked_while_an_action_runs(self) -> None:
        action = self.db.reboot()
        server = self.client.servers.get_by_id(self.db.id)
        check(action.status == "running", f"the reboot is to run for a while ({SLOW_FAULTS})")
        check(server.locked is True, "server.locked is false while its reboot runs")
        e = api_error("locked", lambda: self.client.servers.power_off(server))
        check("locked" in e.message, f"message {e.message}")
        api_error("locked", lambda: self.client.servers.delete(server))
        wait([action])
        check(self.client.servers.get_by_id(self.db.id).locked is False, "still locked after the reboot")

    def step_041_change_type_rules_and_numeric_id(self) -> None:
        api_error("server_not_stopped", lambda: self.client.servers.change_type(self.db, self.cx33, upgrade_disk=False))
        wait([self.db.power_off()])
        api_error("invalid_server_type", lambda: self.db.change_type(self.cax11, upgrade_disk=False))
        wait([self.db.change_type(ServerType(id=self.cx33.id), upgrade_disk=False)])
        db = self.client.servers.get_by_id(self.db.id)
        check(db.server_type.name == "cx33", f"type {db.server_type.name}")
        check(db.primary_disk_size == self.cx23.disk, f"the disk was kept: {db.primary_disk_size}")
        wait([db.power_on()])

    def step_042_rebuild_by_numeric_image_id(self) -> None:
        resp = self.client.servers.rebuild(self.db, Image(id=self.debian.id))
        check(resp.root_password is None, "no root password for a server with SSH keys")
        check(resp.action.command == "rebuild_server", f"command {resp.action.command}")
        wait([resp.action])
        db = self.client.servers.get_by_id(self.db.id)
        check(db.image.name == "debian-12" and db.status == "running", f"{db.image.name} {db.status}")

    def step_043_backups(self) -> None:
        action = self.db.enable_backup()
        check(action.command == "enable_backup", f"command {action.command}")
        wait([action])
        window = self.client.servers.get_by_id(self.db.id).backup_window
        check_type(window, str, "backup_window")
        start, end = window.split("-")
        check((int(end) - int(start)) % 24 == 4, f"a four-hour window, got {window}")
        wait([self.client.servers.disable_backup(self.db)])
        check(self.client.servers.get_by_id(self.db.id).backup_window is None, "backup_window after disable")

    def step_044_protection_enforced(self) -> None:
        action = self.db.change_protection(delete=True, rebuild=True)
        check(action.command == "change_protection", f"command {action.command}")
        wait([action])
        db = self.client.servers.get_by_id(self.db.id)
        check(db.protection == {"delete": True, "rebuild": True}, f"protection {db.protection}")
        api_error("protected", lambda: db.delete())
        api_error("protected", lambda: db.rebuild(self.ubuntu))
        e = api_error("invalid_input", lambda: db.change_protection(delete=True, rebuild=False))
        check(error_fields(e) == ["rebuild"], f"fields {error_fields(e)}")
        wait([db.change_protection(delete=False, rebuild=False)])
        check(self.client.servers.get_by_id(self.db.id).protection == {"delete": False, "rebuild": False}, "lifted")

    # -- volumes -------------------------------------------------------------------------------------------------

    def step_050_volume_create_by_location(self) -> None:
        resp = self.client.volumes.create(size=10, name="contract-data", location=Location(name="fsn1"),
                                          format="ext4", labels=dict(LABELS))
        check(resp.action.command == "create_volume" and resp.next_actions == [], f"{resp.action.command}")
        wait([resp.action])
        v = self.client.volumes.get_by_id(resp.volume.id)
        check_type(v.id, int, "volume.id")
        check_time(v.created, "volume.created")
        check(v.status == "available" and v.size == 10 and v.format == "ext4", f"{v.status} {v.size} {v.format}")
        check(v.server is None and v.location.name == "fsn1", f"{v.server} {v.location.name}")
        check(v.linux_device == f"/dev/disk/by-id/scsi-0HC_Volume_{v.id}", f"device {v.linux_device}")
        check(v.protection == {"delete": False}, f"protection {v.protection}")
        self.data = v

    def step_051_volume_create_on_a_server_and_by_location_id(self) -> None:
        resp = self.client.volumes.create(size=10, name="contract-logs", server=self.web, automount=True)
        check([a.command for a in resp.next_actions] == ["attach_volume"], f"next {resp.next_actions}")
        wait([resp.action] + resp.next_actions)
        logs = self.client.volumes.get_by_id(resp.volume.id)
        check(logs.server is not None and logs.server.id == self.web.id, f"attached to {logs.server}")
        web = self.client.servers.get_by_id(self.web.id)
        check([v.id for v in web.volumes] == [logs.id], f"server.volumes {[v.id for v in web.volumes]}")
        by_id = self.client.volumes.create(size=10, name="contract-scratch", location=Location(id=self.hel1.id))
        wait([by_id.action])
        check(by_id.volume.location.name == "hel1", f"location {by_id.volume.location.name}")
        self.logs, self.scratch = logs, by_id.volume

    def step_052_volume_errors(self) -> None:
        api_error("uniqueness_error", lambda: self.client.volumes.create(size=10, name="contract-data", location=self.fsn1))
        e = api_error("invalid_input", lambda: self.client.volumes.create(size=5, name="contract-tiny", location=self.fsn1))
        check(error_fields(e) == ["size"], f"fields {error_fields(e)}")
        api_error("volume_already_attached", lambda: self.logs.attach(self.db))
        api_error("resource_in_use", lambda: self.logs.delete())

    def step_053_volume_lists(self) -> None:
        mine = self.client.volumes.get_all(label_selector="contract=hcloud-python")
        check([v.name for v in mine] == ["contract-data"], f"{[v.name for v in mine]}")
        check(self.client.volumes.get_by_name("contract-logs").id == self.logs.id, "by name")
        available = self.client.volumes.get_list(status=["available"], per_page=2)
        check(available.meta.pagination.total_entries == 3, f"{available.meta.pagination}")

    def step_054_volume_attach_detach_resize(self) -> None:
        wait([self.data.attach(self.db, automount=False)])
        check(self.client.volumes.get_by_id(self.data.id).server.id == self.db.id, "attached")
        wait([self.client.volumes.detach(self.data)])
        check(self.client.volumes.get_by_id(self.data.id).server is None, "detached")
        wait([self.data.resize(20)])
        check(self.client.volumes.get_by_id(self.data.id).size == 20, "resized")
        e = api_error("invalid_input", lambda: self.data.resize(15))
        check(error_fields(e) == ["size"], f"fields {error_fields(e)}")

    def step_055_volume_update(self) -> None:
        v = self.client.volumes.update(self.data, name="contract-data-2", labels=dict(LABELS, kind="data"))
        check(v.name == "contract-data-2" and v.labels["kind"] == "data", f"{v.name} {v.labels}")

    def step_056_volume_protection_enforced(self) -> None:
        action = self.client.volumes.change_protection(self.data, delete=True)
        check(action.command == "change_protection", f"command {action.command}")
        wait([action])
        check(self.client.volumes.get_by_id(self.data.id).protection == {"delete": True}, "protected")
        api_error("protected", lambda: self.client.volumes.delete(self.data))
        wait([self.data.change_protection(delete=False)])
        check(self.client.volumes.get_by_id(self.data.id).protection == {"delete": False}, "lifted")

    # -- firewalls applied to servers -----------------------------------------------------------------------------

    def step_060_firewall_apply_to_server_and_selector(self) -> None:
        targets = [
            FirewallResource(type="server", server=self.db),
            FirewallResource(type="label_selector", label_selector=FirewallResourceLabelSelector("role=spare")),
        ]
        actions = self.client.firewalls.apply_to_resources(self.fw, targets)
        check([a.command for a in actions] == ["apply_firewall", "apply_firewall"], f"{[a.command for a in actions]}")
        wait(actions)
        fw = self.client.firewalls.get_by_id(self.fw.id)
        kinds = sorted(r.type for r in fw.applied_to)
        check(kinds == ["label_selector", "server", "server"], f"applied_to {kinds}")
        selector = next(r for r in fw.applied_to if r.type == "label_selector")
        check(selector.label_selector.selector == "role=spare", f"selector {selector.label_selector.selector}")
        # The client reads an empty `applied_to_resources` as None.
        check(not selector.applied_to_resources, f"nothing has role=spare now: {selector.applied_to_resources}")
        db = self.client.servers.get_by_id(self.db.id)
        check([f.firewall.id for f in db.public_net.firewalls] == [self.fw.id], "on the server")

    def step_061_firewall_target_errors(self) -> None:
        again = [FirewallResource(type="server", server=self.db)]
        api_error("firewall_already_applied", lambda: self.fw.apply_to_resources(again))
        spare = [FirewallResource(type="server", server=self.spare)]
        api_error("firewall_resource_not_found", lambda: self.fw.remove_from_resources(spare))
        api_error("resource_in_use", lambda: self.fw.delete())

    def step_062_firewall_managed_by_selector(self) -> None:
        # Selector membership follows the labels at once; no action runs for it.
        self.client.servers.update(self.spare, labels=dict(LABELS, role="spare"))
        spare = [FirewallResource(type="server", server=self.spare)]
        api_error("firewall_managed_by_label_selector", lambda: self.fw.remove_from_resources(spare))
        fw = self.client.firewalls.get_by_id(self.fw.id)
        selector = next(r for r in fw.applied_to if r.type == "label_selector")
        check([r.server.id for r in selector.applied_to_resources] == [self.spare.id], "the selector reaches it")

    def step_063_firewall_remove_and_delete(self) -> None:
        fw = self.client.firewalls.get_by_id(self.fw.id)
        actions = fw.remove_from_resources(fw.applied_to)
        check({a.command for a in actions} == {"remove_firewall"}, f"{[a.command for a in actions]}")
        wait(actions)
        check(self.client.firewalls.get_by_id(self.fw.id).applied_to == [], "removed from everything")
        self.fw_removed = True

    # -- action lists --------------------------------------------------------------------------------------------

    def step_070_server_action_lists(self) -> None:
        mine = self.db.get_actions_list(sort=["id:desc"], per_page=3)
        ids = [a.id for a in mine.actions]
        check(ids == sorted(ids, reverse=True) and len(ids) == 3, f"sorted ids {ids}")
        check(mine.meta.pagination.next_page == 2, f"{mine.meta.pagination}")
        failed = self.client.servers.get_actions(self.db, status=["error"])
        check([a.command for a in failed] == ["reset_server"], f"failed {[a.command for a in failed]}")
        every = self.client.servers.actions.get_all(sort=["command:asc", "id:asc"])
        commands = [a.command for a in every]
        check(commands == sorted(commands), "sort=command:asc")
        check({"create_server", "enable_backup", "change_protection"} <= set(commands), f"{set(commands)}")
        check(all(any(r["type"] == "server" for r in a.resources) for a in every), "only server actions")
        one = self.client.servers.actions.get_by_id(failed[0].id)
        check(one.error["code"] == "reset_failed", f"error {one.error}")
        self.reset_action = one

    def step_071_server_actions_by_id_filter(self) -> None:
        first_two = [a.id for a in self.client.servers.actions.get_list(sort=["id"], per_page=2).actions]
        listed = self.raw("GET", "/servers/actions", params={"id": first_two})
        check([a["id"] for a in listed["actions"]] == first_two, f"id filter {listed['actions']}")
        running = self.client.servers.actions.get_list(status=["running"])
        check(running.actions == [], f"nothing runs now: {running.actions}")

    def step_072_volume_action_lists(self) -> None:
        mine = self.data.get_actions(sort=["started:asc"])
        check([a.command for a in mine][:2] == ["create_volume", "attach_volume"], f"{[a.command for a in mine]}")
        every = self.client.volumes.actions.get_all(status=["success"])
        check(len(every) >= len(mine), f"{len(every)} volume actions")
        check(self.client.volumes.actions.get_by_id(mine[0].id).command == "create_volume", "by id")
        page = self.client.volumes.get_actions_list(self.data, per_page=1, page=2)
        check(len(page.actions) == 1 and page.meta.pagination.previous_page == 1, f"{page.meta.pagination}")

    def step_073_firewall_action_lists(self) -> None:
        mine = self.fw.get_actions_list(sort=["id:asc"]).actions
        check(mine[0].command == "set_firewall_rules", f"{[a.command for a in mine]}")
        every = self.client.firewalls.actions.get_list(sort=["finished:desc"], per_page=50).actions
        check({a.id for a in mine} <= {a.id for a in every}, "a firewall's actions are among all firewall actions")
        check(self.client.firewalls.actions.get_by_id(mine[0].id).id == mine[0].id, "by id")
        check(self.client.firewalls.get_actions(self.fw, status=["error"]) == [], "no failed firewall action")

    def step_074_actions_by_id_and_batched(self) -> None:
        action = self.client.actions.get_by_id(self.reset_action.id)
        check(action.command == "reset_server" and action.status == "error", f"{action.command} {action.status}")
        ids = [self.reset_action.id, self.reset_action.id - 1, 10**9]
        batched = self.raw("GET", "/actions", params={"id": ids})
        check(sorted(a["id"] for a in batched["actions"]) == sorted(ids[:2]), "unknown ids are left out")
        api_error("invalid_input", lambda: self.client.actions.get_list())

    def step_075_deprecated_nested_action_reads(self) -> None:
        for base, rid, action in [
            ("servers", self.db.id, self.reset_action.id),
            ("volumes", self.data.id, self.data.get_actions()[0].id),
            ("firewalls", self.fw.id, self.fw.get_actions()[0].id),
        ]:
            got = self.raw("GET", f"/{base}/{rid}/actions/{action}")
            check(got["action"]["id"] == action, f"{base}: {got}")

    # -- protocol errors -----------------------------------------------------------------------------------------

    def step_080_unauthorized(self) -> None:
        anonymous = Client(token="", api_endpoint=self.endpoint, api_endpoint_hetzner=self.endpoint)
        anonymous._client._session.trust_env = False
        api_error("unauthorized", lambda: anonymous.servers.get_all())

    def step_081_json_error_method_and_path(self) -> None:
        api_error("json_error", lambda: self.raw("POST", "/ssh_keys", data="{\"name\":"))
        api_error("method_not_allowed", lambda: self.raw("PATCH", "/servers"))
        api_error("not_found", lambda: self.raw("GET", "/no_such_thing"))
        api_error("not_found", lambda: self.raw("POST", f"/servers/{self.db.id}/actions/explode"))
        api_error("not_found", lambda: self.client.servers.get_by_id(10**9))

    # -- teardown ------------------------------------------------------------------------------------------------

    def step_090_delete_volumes(self) -> None:
        wait([self.logs.detach()])
        for v in (self.data, self.logs, self.scratch):
            check(self.client.volumes.delete(v) is True, f"delete {v.name}")
        check(self.client.volumes.get_by_name("contract-logs") is None, "gone")

    def step_091_delete_servers(self) -> None:
        for s in (self.web, self.db, self.spare):
            action = self.client.servers.delete(s)
            check(action.command == "delete_server", f"command {action.command}")
            wait([action])
            api_error("not_found", lambda: self.client.servers.get_by_id(s.id))

    def step_092_delete_firewall_and_key(self) -> None:
        check(self.client.firewalls.delete(self.fw) is True, "firewall")
        check(self.client.ssh_keys.delete(self.key) is True, "ssh key")
        check(self.client.ssh_keys.get_all() == [] and self.client.firewalls.get_all() == [], "the project is empty")


def loopback_endpoint(endpoint: str) -> str:
    """Refuses any endpoint but an http URL on a loopback address."""
    url = urllib.parse.urlsplit(endpoint)
    host = url.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if url.scheme != "http" or not loopback:
        raise SystemExit(f"refusing {endpoint!r}: the contract suite only talks to a loopback http endpoint")
    return endpoint.rstrip("/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the simulator's /v1 URL, on loopback")
    parser.add_argument("--token", default="contract-token")
    args = parser.parse_args()
    endpoint = loopback_endpoint(args.endpoint)
    # Fast polling: simulated actions take milliseconds (the slow reboot takes one second).
    # Both endpoints point at the simulator: the second (Storage Boxes) is never used, and must not lead elsewhere.
    client = Client(token=args.token, api_endpoint=endpoint, api_endpoint_hetzner=endpoint,
                    poll_interval=0.02, poll_max_retries=500)
    client._client._session.trust_env = False  # no proxy from the environment between us and loopback
    return Scenario(client, endpoint).run()


if __name__ == "__main__":
    sys.exit(main())
