# The tailor image for exported workflows (deno task pipeline export --to argo --image ...).
# Not built in the project's CI (no container engine there); see README, "Running on a cluster and in CI".
#
#   docker build -t registry.example/tailor:0.1.0 . && docker push registry.example/tailor:0.1.0
#
# CPU nodes use Mesa's lavapipe (Vulkan on the CPU); GPU nodes use the NVIDIA driver that the NVIDIA container
# toolkit mounts into the pod, found through the ICD manifest below (the "graphics" capability brings Vulkan).
FROM denoland/deno:debian-2.9.6

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1 \
 && rm -rf /var/lib/apt/lists/*

# The NVIDIA Vulkan ICD: the toolkit mounts libGLX_nvidia.so.0 but not always this manifest. On a node without
# the driver the loader skips it and lavapipe serves.
RUN mkdir -p /usr/share/vulkan/icd.d \
 && printf '%s\n' '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3"}}' \
    > /usr/share/vulkan/icd.d/nvidia_icd.json
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    XDG_RUNTIME_DIR=/tmp/xdg \
    DENO_NO_UPDATE_CHECK=1

WORKDIR /app
# Dependencies first (a layer that survives code changes): npm packages vendored into node_modules, native
# install scripts (sharp, resvg) run here, the lock file frozen.
COPY deno.json deno.lock ./
RUN deno install --frozen --allow-scripts
COPY . .
# Compile the entry points ahead, so a pod starts without fetching or type-checking anything.
RUN deno cache main.ts eval/cli.ts data/cli.ts model/cli.ts \
 && mkdir -p runs .cache "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" \
 && chown -R deno:deno /app "$XDG_RUNTIME_DIR"

USER deno
ENTRYPOINT []
CMD ["deno", "task", "stage", "--help"]
