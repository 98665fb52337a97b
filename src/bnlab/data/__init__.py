"""Data: sources (torchvision, .npz, image folders), the prepared cache, device-resident batches."""
