from setuptools import find_packages, setup

setup(
    name="sdnapp",
    version="0.1.0",
    description="Tenant layer-2 networks on OpenFlow switches: an os-ken application with a REST API",
    python_requires=">=3.11",
    # testbeds/ (Mininet and namespace testbeds, benchmarks) and tests/ run from a checkout; they are not
    # part of what a deployment installs.
    packages=find_packages(include=["sdnapp", "flows", "topology", "rest", "sdnapp.*", "flows.*", "topology.*",
                                    "rest.*"]),
    install_requires=[
        "os-ken>=4.0.0",
        "WebOb>=1.8.7",
        "waitress>=3.0.0",
        "PyYAML>=6.0",
        "jsonschema>=4.17",
        # The Open vSwitch project's OVSDB client (Debian: python3-openvswitch).
        "ovs>=2.17",
        # GET /metrics: the Prometheus project's own client.
        "prometheus-client>=0.20",
        # The operator's CLI: tables and progress.
        "rich>=13.0",
        # Nova's events (network-vif-plugged...) with a static token or Keystone credentials.
        "keystoneauth1>=5.18",
        # PostgreSQL, when several instances share the state (store.url): psycopg 3 and its pool.
        "psycopg[binary,pool]>=3.2",
    ],
    # The live page's files (rest/static/), served by sdnapp itself.
    package_data={"rest": ["static/*"]},
    extras_require={
        "test": [
            "pytest>=8.0",
            "hypothesis>=6.100",
            "scapy>=2.5.0",
            "ruff>=0.6",
            "mypy>=1.10",
            "types-PyYAML>=6.0",
            "types-jsonschema>=4.17",
            "openapi-spec-validator>=0.7",
            # 4.x: schemathesis.openapi.from_dict and SchemathesisConfig (tests/unit/test_fuzz_schemathesis.py)
            "schemathesis>=4.32,<5",
            # The live page in a real browser: Debian's chromium and chromium-driver (scripts/setup.sh).
            "selenium>=4.20",
            # The real clients of the Neutron face, driven by tests/integration/test_neutron_clients.py.
            "openstacksdk>=4.22",
            "python-openstackclient>=10.5",
            # The fleet benchmark's --profile samples sdnapp with it (testbeds/pyspy.py).
            "py-spy>=0.3.14",
        ],
    },
    entry_points={"console_scripts": ["sdnapp=sdnapp.cli:main"]},
)
