_base_ = './solo_feral_base.py'
# the same two training photos in every batch: can SOLO's mask branch fit
# them at all within 40 iterations?
train_dataloader = dict(dataset=dict(indices=2))
