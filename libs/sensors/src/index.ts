// @benchfarm/sensors: what an agent can sense and drive on its device. Power probes (RAPL,
// nvidia-smi, Jetson INA3221 hwmon/iio/tegrastats, Raspberry Pi 5 PMIC, amdgpu hwmon, an
// external meter), thermal zones and clocks, the device inventory, the execution-provider
// probe, and the external runtimes (trtexec, benchmark_app, benchmark_model). The single public entry.
export { SensorPermissionError, SensorFormatError, SensorCommandError, SensorConfigError } from './errors';
export { fileSysfsReader, processCommandRunner, type SysfsReader, type CommandRunner, type CommandOutput } from './io';
export { FILE_SENSOR_RATE_HZ, PROCESS_SENSOR_RATE_HZ, type PowerReading, type ChannelReading, type PowerSource, type ProbeOutcome, type SensorContext } from './power.types';
export { probeRapl, WrappingCounter } from './power.rapl';
export { probeJetsonHwmon, probeJetsonIio, probeTegrastats, parseTegrastatsLine, isSkippedRail, railsTotal, type TegrastatsOptions } from './power.jetson';
export { probeVcgencmdPmic, parsePmicReadAdc, probeNvidiaSmi, parseNvidiaSmiCsv, probeAmdGpuHwmon, type NvidiaSmiGpu } from './power.devices';
export { probeExternalMeter, parseMeterWatts, parseMeterLogTail, type ExternalMeterConfig } from './power.external';
export { detectSensors, choosePowerSource, availableSensorNames, POWER_PREFERENCE, type DetectOptions, type DetectedSensors } from './detect';
export { averagePower, summarizePower, type AveragePower, type PowerSummaryInput } from './energy';
export {
  ThermalReader,
  summarizeThermal,
  parseNvpmodelQuery,
  parseGetThrottled,
  readPowerMode,
  findThermalZones,
  CLOCK_DROP_RATIO,
  type ThermalSnapshot,
  type ZoneSample,
  type ThermalExtras,
} from './thermal';
export { JobRecorder, type RecorderOptions, type RecordedSensors } from './recorder';
export { sensorsConfigFromEnv, createSensorContext, type SensorsConfig } from './config';
export { collectInventory, parseCpuFlags, parseOsRelease, parseNvTegraRelease, jetpackForL4t, findExternalRuntimes } from './inventory';
export { probeExecutionProviders, type ExecutionProviderProbe } from './ep-probe';
export { parseTrtexecOutput, parseBenchmarkAppOutput, parseBenchmarkModelOutput, type ExternalRunResult, type ExternalRuntime } from './external/parse';
export { probeInstalledRuntimes, trtexecVersion, externalToolVersion, parseTrtexecExportTimes } from './external/installed';
export { externalCommand, parseExternalOutput, runExternalRuntime, externalResultToSummary, type ExternalRunSpec } from './external/run';
// Fixtures (fake trees, recorded outputs) for tests in other packages, such as the agent's end-to-end test.
export { memorySysfs, recordedCommands, writeFakeTree, jetsonOrinHwmonTree, raplTree, type FakeFile } from './fake-device.fixture';
