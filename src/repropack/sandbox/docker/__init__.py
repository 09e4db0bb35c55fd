"""The Docker backend: engine connection, image build, base image, locked-down container."""
