"""A fabric where LLDP is not used: the operator writes the cabling into the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbeds import fabric as fb
from testbeds import single_switch as ss
from testbeds.client import Client
from testbeds.ovs import dump_flows
from testbeds.process import SdnappProcess

API_PORT = 19698
OF_PORT = 16655


def test_configured_links_carry_networks_without_discovery(tmp_path: Path) -> None:
    spec = fb.LINE4
    bed = fb.build_net(spec, OF_PORT)  # the switches keep trying until sdnapp listens
    proc = None
    try:
        links = bed.link_config()
        proc = SdnappProcess(
            tmp_path, api_port=API_PORT, of_ports=(OF_PORT,),
            extra={"topology": {"discovery": False, "links": links}},
        )
        proc.start()
        fb.wait_links(proc.url, len(links))
        admin = Client(proc.url, "ops", admin=True)
        assert {x["source"] for x in admin.get("/v1/links")["links"]} == {"configured"}
        sc = fb.provision(bed, proc.url)
        admin.wait_status([h.port_id for h in sc.hosts.values()], "ACTIVE", timeout=30)
        m = ss.ping_matrix(bed.net, sc)
        assert ss.matrix_holds(sc, m) == [], ss.format_matrix(sc, m)
        for s in spec.switches:
            assert not [f for f in dump_flows(s) if "dl_type=0x88cc" in f.match], "discovery is off: no LLDP flow"
    except Exception:
        if proc is not None:
            print(proc.log()[-3000:])
        raise
    finally:
        bed.net.stop()
        if proc is not None:
            proc.stop()


def test_a_bad_link_in_the_config_stops_the_start(tmp_path: Path) -> None:
    proc = SdnappProcess(
        tmp_path, api_port=API_PORT, of_ports=(OF_PORT,),
        extra={"topology": {"links": [["0000000000000001/1", "0000000000000001/2"]]}},
    )
    with pytest.raises(RuntimeError, match="both ends are on switch"):
        proc.start()
