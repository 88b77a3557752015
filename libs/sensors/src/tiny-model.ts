/**
 * An ONNX model computing Y = X + W, X and Y float32 [1, 4], W = [1, 2, 3, 4] (opset 13),
 * 155 bytes: libs/onnx's tinyAddModel() encoded once. Used to prove that an execution
 * provider can create a session and run, without shipping a model file with the agent.
 */
export const TINY_MODEL_BASE64 =
  'CAgSDmJlbmNoZmFybS10ZXN0GgExOmEKEwoBWAoBVxIBWRoDYWRkIgNBZGQSBHRpbnkqGgoBBBABIhAAAIA/AAAAQAAAQEAAAIBAQgFXWhMKAVgSDgoMCAESCAoCCAEKAggEYhMKAVkSDgoMCAESCAoCCAEKAggEQgQKABAN';
